import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { storageConformance } from "../testing/storage-conformance.js";
import { createFsStorage } from "./fs.js";

storageConformance("fs", async () => {
  const directory = mkdtempSync(join(tmpdir(), "doubao-storage-fs-"));
  return { storage: createFsStorage(directory), close: async () => rmSync(directory, { recursive: true, force: true }) };
});

test("a write makes its day's folder when it is missing: the first of the day, and after the sweeper removed it", async () => {
  const directory = mkdtempSync(join(tmpdir(), "doubao-storage-fs-day-"));
  try {
    const storage = createFsStorage(directory);
    const first = await storage.put(Buffer.from("one"), "jpeg");
    rmSync(join(directory, first.slice(0, 8)), { recursive: true, force: true });
    const second = await storage.put(Buffer.from("two"), "jpeg");
    assert.equal((await storage.get(second))?.bytes.toString(), "two");
    assert.equal(existsSync(join(directory, first)), false);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { storageConformance } from "../testing/storage-conformance.js";
import { createFsStorage } from "./fs.js";

storageConformance("fs", async () => {
  const directory = mkdtempSync(join(tmpdir(), "doubao-storage-fs-"));
  return { storage: createFsStorage(directory), close: async () => rmSync(directory, { recursive: true, force: true }) };
});

// The store conformance suite on SQLite (a fresh database file per test).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { storeConformance } from "../testing/store-conformance.js";
import { openMigrated } from "./database.js";
import { openSqliteDataDir } from "./sql/sqlite.js";

const root = mkdtempSync(join(tmpdir(), "doubao-gateway-sqlite-"));
after(() => rmSync(root, { recursive: true, force: true }));
let opened = 0;

storeConformance("SQLite", () => openMigrated({ dataDir: join(root, String((opened += 1))) }));

// The durability asked for holds on every open: better-sqlite3 alone gives FULL (2) to a new WAL database and NORMAL
// (1) to one it reopens, so a gateway's first restart used to change it.
test("SQLITE_SYNCHRONOUS is the database's synchronous setting when it is created and when it is reopened", async () => {
  const dataDir = join(root, "synchronous");
  const read = () => {
    const connection = openSqliteDataDir(dataDir);
    const value = connection.pragma("synchronous", { simple: true });
    connection.close();
    return value;
  };
  for (const [setting, expected] of [[undefined, 1], ["full", 2], ["normal", 1], [undefined, 1], ["full", 2]] as const) {
    const database = await openMigrated({ dataDir, ...(setting ? { sqliteSynchronous: setting } : {}) });
    const rows = await database.all<{ synchronous: number }>("PRAGMA synchronous");
    assert.equal(rows[0]?.synchronous, expected, `opened with ${setting ?? "the default"}`);
    await database.close();
  }
  // A plain connection opened the helper's way gets the default too, whatever the last connection set.
  assert.equal(read(), 1);
});

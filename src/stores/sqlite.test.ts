// The store conformance suite on SQLite (a fresh database file per test).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { storeConformance } from "../testing/store-conformance.js";
import { openMigrated } from "./database.js";
import { createSqliteDatabase, openSqliteDataDir } from "./sql/sqlite.js";

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

// Group commit: the batches of one event-loop turn share a transaction; a batch that fails is rolled back whole and
// rejects alone, and the others of its group are written all the same.
test("a failing batch of a group commit rejects alone, leaving none of its statements; the rest of the group is written", async () => {
  const database = createSqliteDatabase(join(root, "group.db"));
  try {
    await database.exec("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL)");
    await database.batch([["INSERT INTO t (id, n) VALUES ('taken', 0)", []]]);
    const outcomes = await Promise.allSettled([
      database.batch([["INSERT INTO t (id, n) VALUES ('a', 1)", []], ["UPDATE t SET n = n + 10 WHERE id = 'a'", []]]),
      // Its first statement would succeed; its second breaks the key: neither may stay.
      database.batch([["INSERT INTO t (id, n) VALUES ('b', 2)", []], ["INSERT INTO t (id, n) VALUES ('taken', 3)", []]]),
      database.batch([["UPDATE t SET n = n + 1 WHERE id = 'taken'", []], ["UPDATE t SET n = n + 1 WHERE id = 'nobody'", []]]),
    ]);
    assert.deepEqual(outcomes[0], { status: "fulfilled", value: [1, 1] });
    assert.equal(outcomes[1].status, "rejected");
    assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /UNIQUE constraint failed: t\.id/);
    assert.deepEqual(outcomes[2], { status: "fulfilled", value: [1, 0] });
    assert.deepEqual(await database.all("SELECT id, n FROM t ORDER BY id"), [{ id: "a", n: 11 }, { id: "taken", n: 1 }]);
    // And a group in which every batch is good is written as it is.
    assert.deepEqual(await Promise.all([database.batch([["UPDATE t SET n = 5 WHERE id = 'a'", []]]), database.batch([["DELETE FROM t WHERE id = 'taken'", []]])]), [[1], [1]]);
    assert.deepEqual(await database.all("SELECT id, n FROM t ORDER BY id"), [{ id: "a", n: 5 }]);
  } finally {
    await database.close();
  }
});

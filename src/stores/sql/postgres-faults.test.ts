// The PostgreSQL backend behind a fault proxy: a connection that dies inside a transaction, holding an advisory lock,
// is a 503 for that transaction and nothing else (no 'error' event reaches the process); a silent server is a 503
// within the statement bound; the database is used again as soon as it answers.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { GatewayError } from "../../errors/errors.js";
import { startFaultProxy, type FaultProxy } from "../../testing/fault-proxy.js";
import { testPostgres } from "../../testing/postgres.js";
import { createPostgresDatabase, isConnectionFailure } from "./postgres.js";
import type { SqlDatabase } from "./types.js";

const schema = testPostgres("pgfaults");
let proxy: FaultProxy;
let database: SqlDatabase;
const unhandled: unknown[] = [];
const onUncaught = (error: unknown) => void unhandled.push(error);
// pg warns (once per process) when a client is sent a query while it runs another: it becomes an error in pg 9.
const warnings: string[] = [];
process.on("warning", (warning) => void warnings.push(warning.message));

before(async () => {
  process.on("uncaughtException", onUncaught);
  proxy = await startFaultProxy({ host: "127.0.0.1", port: 5432 });
  const url = new URL(schema.url);
  url.port = String(proxy.port);
  database = await createPostgresDatabase({ url: url.toString(), poolMax: 3, timeouts: { connectMs: 500, statementMs: 800, idleInTransactionMs: 2_000 } });
  await database.exec("CREATE TABLE IF NOT EXISTS faults (id TEXT PRIMARY KEY)");
});

after(async () => {
  process.off("uncaughtException", onUncaught);
  await database.close();
  await proxy.close();
  await schema.drop();
});

const unavailable = (error: unknown) => error instanceof GatewayError && error.status === 503 && error.code === "DatabaseUnavailable" && error.retryAfter === 5;

test("a cut while a transaction holds an advisory lock rejects that transaction with 503 DatabaseUnavailable; no error escapes; the next one works", async () => {
  const holding = database.transaction(async (tx) => {
    await tx.lock("quota:key-1");
    await tx.run("INSERT INTO faults (id) VALUES (?)", ["in-cut"]);
    await tx.get("SELECT pg_sleep(0.5)");
  });
  await new Promise((resolve) => setTimeout(resolve, 150));
  proxy.set("cut");
  await assert.rejects(holding, unavailable);
  await assert.rejects(database.get("SELECT 1 AS one"), unavailable, "while cut, a statement is a 503 too");
  proxy.set("pass");
  // The probe lets one statement through every 250 ms: the database is back within a few tries.
  let row: { one: number } | undefined;
  for (let attempt = 0; attempt < 20 && !row; attempt += 1) {
    row = await database.get<{ one: number }>("SELECT 1 AS one").catch(() => undefined);
    if (!row) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.deepEqual(row, { one: 1 });
  assert.equal(await database.get("SELECT id FROM faults WHERE id = 'in-cut'"), undefined, "the cut transaction was rolled back");
  // Its lock went with its connection: another transaction takes it.
  await database.transaction(async (tx) => tx.lock("quota:key-1"));
  assert.deepEqual(unhandled, []);
});

test("a blackholed server (accepts, never answers) is a 503 after the statement bound, not a hang", async () => {
  await database.get("SELECT 1");
  proxy.set("blackhole");
  try {
    await assert.rejects(database.get("SELECT 2"), unavailable);
  } finally {
    proxy.set("pass");
  }
  let back = false;
  for (let attempt = 0; attempt < 30 && !back; attempt += 1) {
    back = (await database.get("SELECT 1 AS one").catch(() => undefined)) !== undefined;
    if (!back) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(back, true);
  assert.deepEqual(unhandled, []);
});

test("a database in a schema of its own sends each client one query at a time (no pg DeprecationWarning), from its first statement", async () => {
  const fresh = testPostgres("pgone");
  const opened = await createPostgresDatabase({ url: fresh.url, poolMax: 4 });
  try {
    await opened.exec("CREATE TABLE IF NOT EXISTS here (id TEXT PRIMARY KEY)");
    // Many statements at once on a cold pool: every new connection's first statement is one of them.
    const schemas = await Promise.all(Array.from({ length: 12 }, () => opened.get<{ schema: string }>("SELECT current_schema() AS schema")));
    assert.deepEqual(new Set(schemas.map((row) => row?.schema)), new Set([fresh.schema]));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings.filter((message) => /already executing a query/.test(message)), []);
  } finally {
    await opened.close();
    await fresh.drop();
  }
});

test("what counts as the database being away, and what is the statement's own fault", () => {
  for (const error of [Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }), new Error("Connection terminated unexpectedly"), new Error("Query read timeout"),
    new Error("timeout exceeded when trying to connect"), Object.assign(new Error("canceling statement due to statement timeout"), { code: "57014" }),
    Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" }), Object.assign(new Error("too many clients"), { code: "53300" })]) {
    assert.equal(isConnectionFailure(error), true, error.message);
  }
  for (const error of [Object.assign(new Error("duplicate key value"), { code: "23505" }), Object.assign(new Error("syntax error"), { code: "42601" }), new Error("CHECK constraint")]) {
    assert.equal(isConnectionFailure(error), false, error.message);
  }
});

// Journalled writes: a write that meets an outage waits on disk, survives the process, and lands once the part is back.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { partUnavailable } from "../errors/errors.js";
import { createDurableWrites } from "./durable.js";

const directory = mkdtempSync(join(tmpdir(), "doubao-durable-"));
after(() => rmSync(directory, { recursive: true, force: true }));

test("a write that meets an outage is journalled, kept across a restart, replayed once the database is back, then gone", async () => {
  const file = join(directory, "journal", "gw-a.jsonl");
  let away = true;
  const landed: Array<[string, unknown]> = [];
  const handler = async (id: string, payload: Record<string, unknown>) => {
    if (away) throw partUnavailable("database", "connect ECONNREFUSED");
    landed.push([id, payload]);
  };
  const first = createDurableWrites({ file });
  first.register("ledger.settle", handler);
  assert.equal(await first.perform("ledger.settle", "req-1", { images: 2 }), "deferred");
  assert.equal(await first.perform("ledger.settle", "req-2", { images: 0 }), "deferred");
  assert.equal(first.holds("req-1"), true);
  assert.equal(await first.retry(), 2, "still away: both wait");
  // The process dies here: what waited is on disk.
  const second = createDurableWrites({ file });
  second.register("ledger.settle", handler);
  assert.deepEqual([second.size, second.holds("req-2"), second.holds("req-3")], [2, true, false]);
  away = false;
  assert.equal(await second.retry(), 0);
  assert.deepEqual(landed, [["req-1", { images: 2 }], ["req-2", { images: 0 }]]);
  assert.equal(readFileSync(file, "utf8"), "", "the journal is empty once everything landed");
  assert.equal(createDurableWrites({ file }).size, 0);
  assert.equal(await second.perform("ledger.settle", "req-4", {}), "done", "with the database there, a write is made at once");
});

test("a write that fails for another reason than an outage is the caller's error, not journalled", async () => {
  const durable = createDurableWrites();
  durable.register("task.finish", async () => {
    throw new Error("CHECK constraint failed");
  });
  await assert.rejects(durable.perform("task.finish", "t1", {}), /CHECK constraint failed/);
  assert.equal(durable.size, 0);
  await assert.rejects(durable.perform("unknown.kind", "t1", {}), /no handler for journalled writes of kind unknown\.kind/);
});

// Idempotency-Key: a retried request gets the same answer (or task) and never a second upstream call.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { migrate } from "../stores/database.js";
import { createSqliteDatabase } from "../stores/sql/sqlite.js";
import { createIdempotencyStore } from "../stores/idempotency.js";
import { startHarness, type Harness } from "../testing/harness.js";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

const arkCalls = () => h.gateway.emulator?.stats.byApi.ark ?? 0;
const body = { model: "doubao-seedream-4-0-250828", prompt: "a paper boat", size: "1280x720", response_format: "url" };

test("the same key and body: the same answer, replayed, with one upstream call and one charge", async () => {
  const calls = arkCalls();
  const requests = async () => (await h.gateway.accounts.ledger.report({ since: "2000-01-01", until: "2100-01-01", by: [] }))[0]?.requests ?? 0;
  const recorded = await requests();
  const first = await h.post("/doubao/images/generations", body, { "idempotency-key": "order-1" });
  const again = await h.post("/doubao/images/generations", body, { "idempotency-key": "order-1" });
  assert.equal(first.status, 200);
  assert.deepEqual(again.json, first.json);
  assert.equal(again.headers["idempotent-replayed"], "true");
  assert.equal(again.headers["x-gateway-provider"], "emulator");
  assert.equal(arkCalls(), calls + 1);
  assert.equal(await requests(), recorded + 1, "the replay is not a second ledger row");
  const other = await h.post("/doubao/images/generations", body, { "idempotency-key": "order-2" });
  assert.notEqual(other.json.data[0].url, first.json.data[0].url);
  assert.equal(arkCalls(), calls + 2);
});

test("the same key with another body is a 409 that says so", async () => {
  await h.post("/doubao/images/generations", body, { "idempotency-key": "order-3" });
  const reused = await h.post("/doubao/images/generations", { ...body, prompt: "another" }, { "idempotency-key": "order-3" });
  assert.equal(reused.status, 409);
  assert.deepEqual(reused.json.error, {
    code: "IdempotencyConflict", param: "Idempotency-Key", type: "invalid_request_error", err_code: -10011,
    message: "This Idempotency-Key was used in the last 24 h with another request (another body or URL); use a new key for a new request.",
    message_cn: "该 Idempotency-Key 在 24 小时内已用于另一个请求（请求体或 URL 不同），新请求请使用新的 key。",
  });
});

test("with ?async=true the replay is the same task; a refused request is replayed as refused; a 5xx runs again", async () => {
  const first = await h.post("/doubao/images/generations?async=true", body, { "idempotency-key": "task-1" });
  const again = await h.post("/doubao/images/generations?async=true", body, { "idempotency-key": "task-1" });
  assert.equal(first.status, 202);
  assert.deepEqual(again.json, first.json);
  // The task ran once (its upstream call is done before counting the next part's calls).
  for (let poll = 0; poll < 200 && (await h.get(`/async_result?task_id=${first.json.task_id}`)).json().status_code === 202; poll += 1) await new Promise((resolve) => setTimeout(resolve, 10));
  const refused = { ...body, size: "1x1" };
  const calls = arkCalls();
  assert.equal((await h.post("/doubao/images/generations", refused, { "idempotency-key": "bad-1" })).status, 400);
  assert.equal((await h.post("/doubao/images/generations", refused, { "idempotency-key": "bad-1" })).headers["idempotent-replayed"], "true");
  assert.equal(arkCalls(), calls);
  const failing = { ...body, prompt: "down [[fault:ark:AccountOverdueError]]" };
  const before = arkCalls();
  const down = await h.post("/doubao/images/generations", failing, { "idempotency-key": "down-1" });
  assert.equal(down.status, 502);
  // The overdue account is out of rotation at once; the operator pays, and the client's retry runs.
  h.gateway.resilience.breaker("ark").succeeded();
  const retry = await h.post("/doubao/images/generations", failing, { "idempotency-key": "down-1" });
  assert.equal(retry.status, 502);
  assert.equal(retry.headers["idempotent-replayed"], undefined, "a 5xx is not kept: the retry ran");
  assert.equal(arkCalls(), before + 2);
});

test("a malformed key, or a stream, is refused", async () => {
  const long = await h.post("/doubao/images/generations", body, { "idempotency-key": "x".repeat(256) });
  assert.equal(long.status, 400);
  assert.equal(long.json.error.param, "Idempotency-Key");
  const stream = await h.post("/doubao/images/generations", { ...body, stream: true }, { "idempotency-key": "s-1" });
  assert.equal(stream.status, 400);
  assert.equal(stream.json.error.param, "stream");
});

test("a claim a dead instance left unanswered is dropped, so the retry runs; a live instance's is kept", async () => {
  const database = createSqliteDatabase(":memory:");
  await migrate(database);
  const store = createIdempotencyStore(database);
  const now = Date.now();
  assert.equal(await store.begin("key", "dead-claim", "h", now, now - 1000, "gw-dead"), true);
  assert.equal(await store.begin("key", "live-claim", "h", now, now - 1000, "gw-live"), true);
  assert.equal(await store.dropInterrupted(async (instanceId) => instanceId === "gw-live"), 1);
  assert.equal(await store.get("key", "dead-claim", now - 1000), undefined);
  assert.equal((await store.get("key", "live-claim", now - 1000))?.state, "in_progress");
  await database.close();
});

/**
 * One suite every database backend runs (SQLite and PostgreSQL): keys, the ledger with its quota race, the task
 * queue, idempotency claims, instance heartbeats and the migrations. A backend passes when its stores behave
 * exactly alike; `open` gives a fresh, migrated database for each test.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createLedger, QuotaRefusal, type Reservation } from "../accounts/ledger.js";
import { migrate } from "../stores/database.js";
import { createIdempotencyStore } from "../stores/idempotency.js";
import { createInstanceRegistry } from "../stores/instances.js";
import { createKeyStore, type KeyLimits } from "../stores/keys.js";
import type { SqlDatabase } from "../stores/sql/types.js";
import { createWebhookOutbox } from "../tasks/outbox.js";
import { createTaskStore } from "../tasks/tasks.js";

const NO_LIMITS: KeyLimits = {
  expiresAt: null, webhookUrl: null, failedImages: "inline", allowedModels: null, rpm: null, concurrency: null, dailyImages: null, totalImages: null, dailySpendMicros: null, totalSpendMicros: null,
};

const reservation = (id: string, keyId: string, images = 1, day = "2026-12-03"): Reservation => ({
  id, keyId, keyName: "k", model: "doubao-seedream-4-5-251128", endpoint: "/doubao/images/generations", images, costMicros: images * 250_000,
  referenceImages: 0, instanceId: "gw-test", createdAt: Date.now(), day,
});

const settlement = (images: number) => ({
  status: images > 0 ? 200 : 500, servedModel: images > 0 ? "doubao-seedream-4-5-251128" : null, images, outputTokens: images * 16384, costMicros: images * 250_000,
  provider: "ark", upstreamRequestId: null, latencyMs: 10, errorCode: images > 0 ? null : "InternalServiceError",
});

export function storeConformance(backend: string, open: () => Promise<SqlDatabase>): void {
  const withDatabase = (work: (database: SqlDatabase) => Promise<void>) => async () => {
    const database = await open();
    try {
      await work(database);
    } finally {
      await database.close();
    }
  };

  describe(`stores on ${backend}`, () => {
    test("migrations: running them again changes nothing and loses nothing", withDatabase(async (database) => {
      const keys = createKeyStore(database);
      const { secret } = await keys.create({ name: "kept" });
      await migrate(database);
      await Promise.all([migrate(database), migrate(database)]);
      assert.equal((await keys.findBySecret(secret))?.name, "kept");
      assert.equal(await keys.count(), 1);
    }));

    test("keys: found by secret (stored hashed), by id, prefix start and name; updated, disabled, deleted", withDatabase(async (database) => {
      const keys = createKeyStore(database);
      const { record, secret } = await keys.create({ name: "alpha", rpm: 5, allowedModels: ["general_v2.1_L"], totalSpendMicros: 1_000_000 });
      assert.match(secret, /^dg_[A-Za-z0-9_-]{40}$/);
      const stored = await database.get<{ hash: Buffer; prefix: string }>("SELECT hash, prefix FROM api_keys WHERE id = ?", [record.id]);
      assert.equal(stored?.hash.length, 32, "a SHA-256 digest, not the secret");
      assert.equal(stored?.prefix, secret.slice(0, 12));
      assert.deepEqual(await keys.findBySecret(secret), record);
      assert.equal(await keys.findBySecret(`${secret.slice(0, 12)}${"A".repeat(31)}`), undefined, "same prefix, other secret");
      assert.equal((await keys.check(secret)).ok, true);
      assert.deepEqual(await keys.get(record.id), record);
      assert.deepEqual(await keys.get("alpha"), record);
      assert.deepEqual(await keys.get(secret.slice(0, 6)), record, "a start of the prefix, with its _ taken literally");
      assert.deepEqual(await keys.matches("dg%"), [], "% is not a wildcard");
      const second = (await keys.create({ name: "beta" })).record;
      assert.deepEqual((await keys.list()).map((key) => key.name), ["alpha", "beta"]);
      assert.equal((await keys.update(record.id, { rpm: null, dailyImages: 3, name: "alpha2" }))?.dailyImages, 3);
      assert.deepEqual([(await keys.get(record.id))?.rpm, (await keys.get(record.id))?.name], [null, "alpha2"]);
      const disabled = await keys.setDisabled(record.id, true, 1_000);
      assert.equal(disabled?.disabledAt, 1_000);
      assert.deepEqual(await keys.checkId(record.id), { ok: false, reason: "disabled", record: disabled });
      assert.equal((await keys.check(secret, 2_000)).ok, false);
      const expiring = (await keys.create({ name: "gamma", expiresAt: 5_000 })).record;
      assert.equal((await keys.checkId(expiring.id, 5_000)).ok, false);
      assert.equal((await keys.checkId(expiring.id, 4_999)).ok, true);
      const webhook = await keys.webhookSecret(second.id);
      assert.match(webhook, /^whsec_[A-Za-z0-9+/]{43}=$/);
      assert.equal(await keys.webhookSecret(second.id), webhook, "made once, then kept");
      assert.equal(await keys.delete(second.id), true);
      assert.equal(await keys.delete(second.id), false);
      assert.equal(await keys.count(), 2);
      await assert.rejects(keys.create({ name: "dup", secret }), "a secret is unique");
    }));

    test("ledger: the last 5 images of a quota go to exactly 5 of 50 concurrent requests", withDatabase(async (database) => {
      const ledger = createLedger(database);
      const limits = { ...NO_LIMITS, totalImages: 8 };
      for (let index = 0; index < 3; index += 1) {
        await ledger.reserve(reservation(`used-${index}`, "key-q"), limits);
        assert.equal(await ledger.settle(`used-${index}`, settlement(1)), true);
      }
      const outcomes = await Promise.allSettled(Array.from({ length: 50 }, (_, index) => ledger.reserve(reservation(`race-${index}`, "key-q"), limits)));
      const admitted = outcomes.filter((outcome) => outcome.status === "fulfilled").length;
      assert.equal(admitted, 5);
      const refusal = (outcomes.find((outcome) => outcome.status === "rejected") as PromiseRejectedResult).reason as QuotaRefusal;
      assert.ok(refusal instanceof QuotaRefusal);
      assert.deepEqual([refusal.kind, refusal.limit, refusal.used, refusal.inFlight, refusal.asked], ["totalImages", 8, 3, 5, 1]);
      assert.equal((await ledger.interrupted()).length, 5);
    }));

    test("ledger: a key without a quota reserves without a check; settle happens once; only delivered images are charged", withDatabase(async (database) => {
      const ledger = createLedger(database);
      await ledger.reserve(reservation("a", "key-free", 4), NO_LIMITS);
      await ledger.reserve(reservation("b", "key-free", 1), NO_LIMITS);
      await ledger.recordFiles("a", ["20261203/one.jpeg"]);
      await ledger.recordFiles("a", ["20261203/two.jpeg"]);
      assert.deepEqual((await ledger.interrupted()).find((row) => row.id === "a")?.files, ["20261203/one.jpeg", "20261203/two.jpeg"]);
      assert.equal(await ledger.settle("a", settlement(2)), true);
      assert.equal(await ledger.settle("a", settlement(2)), false, "a second settle changes nothing");
      assert.equal(await ledger.settle("b", settlement(0)), true);
      const row = await ledger.get("a");
      assert.deepEqual([row?.state, row?.images, row?.charged, row?.cost_micros, row?.served_model], ["settled", 2, 1, 500_000, "doubao-seedream-4-5-251128"]);
      const failed = await ledger.get("b");
      assert.deepEqual([failed?.charged, failed?.cost_micros, failed?.error_code], [0, 0, "InternalServiceError"]);
      assert.deepEqual(await ledger.spent("key-free", "2026-12-03"), { totalImages: 2, dailyImages: 2, totalMicros: 500_000, dailyMicros: 500_000 });
      assert.deepEqual(await ledger.spent("key-free", "2026-12-04"), { totalImages: 2, dailyImages: 0, totalMicros: 500_000, dailyMicros: 0 });
      assert.deepEqual(await ledger.report({ since: "2026-12-01", until: "2026-12-31", by: ["model", "day"] }), [
        { model: "doubao-seedream-4-5-251128", day: "2026-12-03", requests: 2, charged_requests: 1, images: 2, output_tokens: 32768, cost_micros: 500_000 },
      ]);
      assert.deepEqual(await ledger.report({ since: "2026-12-04", until: "2026-12-31", by: [] }), []);
    }));

    test("ledger: of 10 concurrent settles of one row (its request and a recovery), one settles it and the roll-up counts it once", withDatabase(async (database) => {
      const ledger = createLedger(database);
      await ledger.reserve(reservation("once", "key-once", 3), NO_LIMITS);
      const results = await Promise.all(Array.from({ length: 10 }, (_, index) => ledger.settle("once", settlement(index % 2 ? 3 : 0))));
      assert.equal(results.filter(Boolean).length, 1);
      const row = await ledger.get("once");
      const spent = await ledger.spent("key-once", "2026-12-03");
      assert.equal(spent.totalImages, row?.charged ? 3 : 0, "the roll-up agrees with the row that won");
    }));

    test("ledger: what requests in flight hold is two counters per key, grown by reservations and released by settles", withDatabase(async (database) => {
      const ledger = createLedger(database);
      const limits = { ...NO_LIMITS, totalImages: 100 };
      await Promise.all(Array.from({ length: 20 }, (_, index) => ledger.reserve(reservation(`h${index}`, "key-h"), limits)));
      const holds = () => database.all<{ day: string; images: number; micros: number }>("SELECT day, images, micros FROM usage_held WHERE key_id = ? ORDER BY day", ["key-h"]);
      assert.deepEqual(await holds(), [{ day: "*", images: 20, micros: 5_000_000 }, { day: "2026-12-03", images: 20, micros: 5_000_000 }], "two rows, however many are in flight");
      await Promise.all(Array.from({ length: 20 }, (_, index) => ledger.settle(`h${index}`, settlement(index % 2))));
      assert.equal(await ledger.settle("h1", settlement(1)), false);
      assert.deepEqual(await holds(), [{ day: "*", images: 0, micros: 0 }, { day: "2026-12-03", images: 0, micros: 0 }], "every hold released once");
      assert.equal((await ledger.spent("key-h", "2026-12-03")).totalImages, 10);
      await ledger.reserve({ ...reservation("big", "key-h", 90) }, limits);
      await assert.rejects(ledger.reserve(reservation("over", "key-h"), limits), (error: QuotaRefusal) => [error.used, error.inFlight, error.asked].join() === "10,90,1");
      const free = createLedger(database);
      await free.reserve(reservation("free", "key-free-h"), NO_LIMITS);
      assert.deepEqual(await database.all("SELECT * FROM usage_held WHERE key_id = ?", ["key-free-h"]), [], "a key without a quota holds nothing");
      assert.equal(await free.settle("free", settlement(1)), true);
    }));

    test("ledger: 120 requests at once, three keys (two with quotas) over two days, charged or not: each row, the roll-up and the holds agree; on PostgreSQL they share round trips", withDatabase(async (database) => {
      let statements = 0;
      const counted = new Proxy(database, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver) as unknown;
          if (typeof value !== "function") return value;
          return (...args: unknown[]) => {
            if (["run", "all", "get", "batch", "transaction"].includes(String(property))) statements += 1;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      const ledger = createLedger(counted);
      const quota = { ...NO_LIMITS, totalImages: 10_000 };
      const calls = Array.from({ length: 120 }, (_, index) => ({
        id: `m${index}`, key: ["key-m0", "key-m1", "key-m2"][index % 3] as string, day: index % 4 < 2 ? "2026-12-02" : "2026-12-03", images: index % 5 === 0 ? 0 : (index % 3) + 1,
      }));
      const limitsOf = (key: string) => (key === "key-m0" ? NO_LIMITS : quota);
      await Promise.all(calls.map((call) => ledger.reserve(reservation(call.id, call.key, 3, call.day), limitsOf(call.key))));
      const reservedWith = statements;
      const settled = await Promise.all(calls.map((call) => ledger.settle(call.id, { ...settlement(call.images), costMicros: call.images * 250_000 })));
      assert.deepEqual(settled, calls.map(() => true), "each settle moved its own row");
      assert.deepEqual(await Promise.all(calls.slice(0, 5).map((call) => ledger.settle(call.id, settlement(1)))), [false, false, false, false, false]);
      for (const key of ["key-m0", "key-m1", "key-m2"]) {
        for (const day of ["2026-12-02", "2026-12-03"]) {
          const mine = calls.filter((call) => call.key === key && call.day === day);
          const images = mine.reduce((sum, call) => sum + call.images, 0);
          const daily = await database.get<{ images: number; cost_micros: number }>("SELECT images, cost_micros FROM usage_daily WHERE key_id = ? AND day = ?", [key, day]);
          assert.deepEqual(daily, { images, cost_micros: images * 250_000 }, `${key} on ${day}`);
        }
      }
      const rows = await database.all<{ id: string; state: string; images: number; charged: number; cost_micros: number }>("SELECT id, state, images, charged, cost_micros FROM usage WHERE id LIKE 'm%' ORDER BY id");
      assert.deepEqual(rows, calls.map((call) => ({ id: call.id, state: "settled", images: call.images, charged: call.images > 0 ? 1 : 0, cost_micros: call.images * 250_000 })).sort((a, b) => a.id.localeCompare(b.id)));
      const holds = await database.all<{ images: number; micros: number }>("SELECT images, micros FROM usage_held WHERE key_id IN ('key-m1', 'key-m2')");
      assert.equal(holds.length, 6, "per key: its total and two days");
      assert.deepEqual(holds.filter((hold) => hold.images !== 0 || hold.micros !== 0), [], "every hold released once");
      if (database.dialect === "postgres") {
        // 40 reservations without a quota and 120 settles, group-committed; the 80 with a quota stay a transaction each.
        assert.ok(reservedWith - 80 < 40, `reservations without a quota shared statements (${reservedWith - 80} for 40)`);
        assert.ok(statements - reservedWith < 120, `settles shared statements (${statements - reservedWith} for 120)`);
      }
    }));

    test("ledger: daily quotas count only their day, spend quotas count micro-units", withDatabase(async (database) => {
      const ledger = createLedger(database);
      const daily = { ...NO_LIMITS, dailyImages: 2 };
      await ledger.reserve(reservation("d1", "key-d", 2, "2026-12-02"), daily);
      await ledger.settle("d1", settlement(2));
      await ledger.reserve(reservation("d2", "key-d", 2, "2026-12-03"), daily);
      await assert.rejects(ledger.reserve(reservation("d3", "key-d", 1, "2026-12-03"), daily), (error: QuotaRefusal) => error.kind === "dailyImages" && error.inFlight === 2);
      const spend = { ...NO_LIMITS, totalSpendMicros: 600_000 };
      await ledger.reserve(reservation("s1", "key-s", 2), spend);
      await assert.rejects(ledger.reserve(reservation("s2", "key-s", 1), spend), (error: QuotaRefusal) => error.kind === "totalSpend" && error.asked === 250_000);
    }));

    test("tasks: queued, claimed once each by concurrent workers (oldest first), finished once; running work of a dead instance fails", withDatabase(async (database) => {
      const tasks = createTaskStore(database);
      const request = (n: number) => ({ url: `/doubao/drawing?n=${n}`, headers: { "content-type": "application/json" }, body: Buffer.from(`{"n":${n}}`), webhookUrl: n === 0 ? "https://hooks.example/x" : null });
      for (let n = 0; n < 6; n += 1) await tasks.enqueue({ id: `t${n}`, keyId: "key-t", now: 1_000 + n, request: request(n), instanceId: "gw-sub" });
      assert.deepEqual(await tasks.counts(), { queued: 6, running: 0 });
      assert.equal((await tasks.get("t0"))?.state, "pending");
      assert.equal(await tasks.claim("gw-a", 1_500), undefined, "a pending task is not claimable until its client has its id");
      await tasks.enqueue({ id: "t-lost", keyId: "key-t", now: 1_010, request: request(9), instanceId: "gw-sub" });
      await tasks.cancel("t-lost");
      assert.equal(await tasks.get("t-lost"), undefined, "a submission whose client was not told its id is deleted");
      for (let n = 0; n < 6; n += 1) await tasks.queue(`t${n}`);
      await tasks.cancel("t1");
      assert.equal((await tasks.get("t0"))?.state, "queued");
      assert.equal((await tasks.get("t1"))?.state, "queued", "a queued task is not cancelled");
      const first = await tasks.claim("gw-a", 2_000);
      assert.deepEqual([first?.id, first?.state, first?.startedAt, first?.request.url, first?.request.body.toString(), first?.request.webhookUrl],
        ["t0", "running", 2_000, "/doubao/drawing?n=0", '{"n":0}', "https://hooks.example/x"]);
      const claims = await Promise.all(Array.from({ length: 10 }, (_, index) => tasks.claim(index % 2 ? "gw-a" : "gw-b", 3_000)));
      const ids = claims.flatMap((claim) => (claim ? [claim.id] : []));
      assert.deepEqual([...ids].sort(), ["t1", "t2", "t3", "t4", "t5"], "each queued task claimed exactly once");
      assert.equal(await tasks.claim("gw-a", 3_000), undefined);
      assert.deepEqual(await tasks.counts(), { queued: 0, running: 6 });
      const result = { statusCode: 200, contentType: "application/json", data: '{"ok":true}' };
      assert.equal(await tasks.finish("t0", result, 4_000, true), true);
      assert.equal(await tasks.finish("t0", { ...result, statusCode: 500 }, 5_000, true), false, "finished once");
      // The finish put its webhook message in the outbox, once; a claim holds it for its lease, the outcome is recorded.
      const outbox = createWebhookOutbox(database);
      assert.deepEqual(await outbox.get("t0"), { state: "due", attempts: 0, last_error: null });
      const message = await outbox.claim("gw-a", 4_000, 60_000);
      assert.deepEqual({ ...message, body: JSON.parse(message?.body ?? "{}") }, {
        taskId: "t0", keyId: "key-t", url: "https://hooks.example/x", attempts: 1,
        body: { type: "task.completed", timestamp: new Date(4_000).toISOString(), data: { task_id: "t0", status_code: 200, content_type: "application/json", data: '{"ok":true}' } },
      });
      assert.equal(await outbox.claim("gw-b", 5_000, 60_000), undefined, "claimed: no one else sends it during the lease");
      await outbox.attempted("t0", "gw-b", { delivered: true, nextAt: null });
      assert.deepEqual(await outbox.get("t0"), { state: "due", attempts: 1, last_error: null }, "only the claim's holder records");
      assert.equal((await outbox.claim("gw-b", 64_001, 60_000))?.attempts, 2, "a lease that ran out (its gateway died) is claimed again");
      assert.equal(await outbox.releaseClaims("gw-b"), 1, "a restart of gw-b frees the claim its previous run held");
      assert.equal((await outbox.claim("gw-b", 64_002, 60_000))?.attempts, 3, "and it is sent at once");
      await outbox.attempted("t0", "gw-b", { delivered: false, nextAt: 70_000, failure: "HTTP 500" });
      assert.equal(await outbox.claim("gw-b", 69_999, 60_000), undefined, "not due before its next try");
      await outbox.claim("gw-a", 70_000, 60_000);
      await outbox.attempted("t0", "gw-a", { delivered: true, nextAt: null });
      assert.deepEqual(await outbox.get("t0"), { state: "delivered", attempts: 4, last_error: null });
      assert.deepEqual(await tasks.get("t0"), { id: "t0", keyId: "key-t", state: "done", createdAt: 1_000, startedAt: 2_000, finishedAt: 4_000, result });
      const gone = (id: string) => ({ statusCode: 500, contentType: "application/json", data: `{"interrupted":"${id}"}` });
      // Claims of even index were gw-b's, odd gw-a's.
      const claimedBy = (parity: number) => claims.filter((claim, index) => claim && index % 2 === parity).length;
      assert.equal(await tasks.interruptRunning(gone, 6_000, async (instance) => instance === "gw-a"), claimedBy(0), "only the dead instance's");
      assert.equal(await tasks.interruptRunning(gone, 6_000, async () => true, { id: "gw-a", startedAt: 2_500 }), 0, "this run's own are left");
      assert.equal(await tasks.interruptRunning(gone, 6_000, async () => true, { id: "gw-a", startedAt: 3_500 }), claimedBy(1), "a previous run's own are failed");
      assert.deepEqual((await tasks.get("t5"))?.result?.data, '{"interrupted":"t5"}');
      assert.deepEqual(await tasks.counts(), { queued: 0, running: 0 });
      assert.equal(await tasks.sweep(1_003), 3);
      assert.equal(await tasks.get("t1"), undefined);
      // A claim whose reply was lost: marked running on gw-c, never run there; put back once the claim bound has passed.
      await tasks.enqueue({ id: "t9", keyId: "key-t", now: 7_000, request: request(9), instanceId: "gw-sub" });
      await tasks.queue("t9");
      await tasks.claim("gw-c", 7_000);
      assert.equal(await tasks.requeueOwn("gw-c", 7_000, () => false), 0, "a claim younger than the bound may still be answered");
      assert.equal(await tasks.requeueOwn("gw-c", 8_000, (id) => id === "t9"), 0, "one its worker runs stays");
      assert.equal(await tasks.requeueOwn("gw-b", 8_000, () => false), 0, "another instance's stays");
      assert.equal(await tasks.requeueOwn("gw-c", 8_000, () => false), 1);
      assert.equal((await tasks.get("t9"))?.state, "queued");
    }));

    test("idempotency: of 20 concurrent claims one wins; the answer is kept; a past claim is replaced", withDatabase(async (database) => {
      const store = createIdempotencyStore(database);
      const now = 10_000;
      const wins = await Promise.all(Array.from({ length: 20 }, () => store.begin("key", "order-1", "hash", now, now - 1_000, "gw-a")));
      assert.equal(wins.filter(Boolean).length, 1);
      assert.deepEqual(await store.get("key", "order-1", now - 1_000), { state: "in_progress", bodyHash: "hash", createdAt: now });
      const answer = { statusCode: 200, contentType: "application/json", headers: { "x-gateway-provider": "ark" }, body: '{"data":[]}' };
      await store.finish("key", "order-1", answer);
      assert.deepEqual(await store.get("key", "order-1", now - 1_000), { state: "done", bodyHash: "hash", createdAt: now, answer });
      assert.equal(await store.get("key", "order-1", now + 1), undefined, "older than the window");
      assert.equal(await store.begin("key", "order-1", "other", now + 5_000, now + 1, "gw-a"), true, "a claim past the window is replaced");
      await store.release("key", "order-1");
      assert.equal(await store.get("key", "order-1", 0), undefined);
      await store.begin("key", "dead", "h", now, 0, "gw-dead");
      await store.begin("key", "live", "h", now, 0, "gw-live");
      assert.equal(await store.dropInterrupted(async (instance) => instance === "gw-live"), 1);
      assert.equal(await store.sweep(now + 1), 1);
    }));

    test("instances: alive while beating, dead after the stale time, gone after leaving", withDatabase(async (database) => {
      const a = await createInstanceRegistry(database, "gw-a", { staleMs: 30_000, startedAt: 1_000 });
      const b = await createInstanceRegistry(database, "gw-b", { staleMs: 30_000, startedAt: 1_000 });
      assert.equal(await a.alive("gw-b", 20_000), true);
      assert.equal(await a.alive("gw-b", 31_000), false);
      await b.beat(30_000);
      assert.equal(await a.alive("gw-b", 31_000), true);
      assert.equal(await a.alive("gw-a", 1e12), true, "its own work is alive");
      assert.equal(await a.alive(null, 1_000), false);
      await b.leave();
      assert.equal(await a.alive("gw-b", 31_000), false);
    }));

    test("a transaction that throws leaves nothing, and other statements wait for it rather than join it", withDatabase(async (database) => {
      await database.exec("CREATE TABLE IF NOT EXISTS probe (id TEXT PRIMARY KEY)");
      let release = () => undefined as void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const failing = database.transaction(async (tx) => {
        await tx.run("INSERT INTO probe (id) VALUES ('in-tx')");
        await held;
        throw new Error("rolled back");
      });
      const outside = database.run("INSERT INTO probe (id) VALUES ('outside')");
      release();
      await assert.rejects(failing, /rolled back/);
      await outside;
      assert.deepEqual((await database.all<{ id: string }>("SELECT id FROM probe ORDER BY id")).map((row) => row.id), ["outside"]);
    }));
  });
}

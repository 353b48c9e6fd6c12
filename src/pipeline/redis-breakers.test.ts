// Breaker state shared through the machine's Redis: when one gateway's breaker for Ark opens, the other stops calling
// Ark too (and falls back to the relay) without seeing a failure of its own; a probe that succeeds closes both.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { loadConfig } from "../config/environment.js";
import { createGateway, type Gateway } from "../server/runtime.js";
import { openRedis } from "../process/redis.js";
import { TEST_KEY } from "../testing/harness.js";

const root = mkdtempSync(join(tmpdir(), "doubao-gateway-breakers-"));
const configFile = join(root, "gateway.yaml");
writeFileSync(configFile, "retry: { max_attempts: 2, base_delay_ms: 1, max_delay_ms: 1 }\nbreaker: { failure_threshold: 2, cooldown_ms: 30000 }\n");
const prefix = `doubao-gateway-breakers:${process.pid}:${Date.now()}:`;
let a: Gateway;
let b: Gateway;
// One clock for both (the breakers' cooldown is read from it), moved by the test.
let time = Date.now();
const clock = { now: () => time, sleep: async () => undefined };

before(async () => {
  const environment = (name: string) => ({
    DATA_DIR: join(root, name), GATEWAY_EMULATE: "1", GATEWAY_BOOTSTRAP_KEY: TEST_KEY, PUBLIC_BASE_URL: "http://gw.test", GATEWAY_CONFIG: configFile,
    REDIS_URL: "redis://127.0.0.1:6379/0", INSTANCE_ID: name,
  });
  a = await createGateway(loadConfig(environment("a")), { redisPrefix: prefix, clock });
  b = await createGateway(loadConfig(environment("b")), { redisPrefix: prefix, clock });
});
after(async () => {
  await a.close();
  await b.close();
  const redis = await openRedis("redis://127.0.0.1:6379/0");
  await redis.del(`${prefix}breakers`);
  redis.disconnect();
  rmSync(root, { recursive: true, force: true });
});

const generate = (gateway: Gateway, prompt: string) =>
  gateway.app.inject({
    method: "POST", url: "/doubao/images/generations", headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" },
    payload: JSON.stringify({ model: "doubao-seedream-4-5-251128", prompt, size: "2K", response_format: "b64_json", watermark: false }),
  });

const arkBreaker = async (gateway: Gateway) => {
  const text = (await gateway.app.inject({ method: "GET", url: "/metrics" })).body;
  return /gateway_breaker_state\{provider="ark"\} (\d)/.exec(text)?.[1];
};

test("A's Ark breaker opening opens B's: B serves from the relay without calling its Ark; A's successful probe closes B's", async () => {
  assert.equal((await generate(a, "fine")).headers["x-gateway-provider"], "emulator");
  // Ark (only Ark, not the relay) overloaded for A's two attempts: A's Ark breaker opens, the relay serves A.
  const queued = await a.emulator?.app.inject({ method: "POST", url: "/_emulator/faults", payload: { fault: "ark:ServerOverloaded", times: 2, api: "ark" } });
  assert.equal(queued?.statusCode, 201);
  const failing = await generate(a, "overloaded");
  assert.equal(failing.headers["x-gateway-provider"], "emulator-302ai");
  assert.equal(a.resilience.breaker("ark").state, "open");
  assert.equal(a.resilience.breaker("302ai").state, "closed");
  for (let wait = 0; wait < 100 && b.resilience.breaker("ark").state !== "open"; wait += 1) await sleep(20);
  assert.equal(b.resilience.breaker("ark").state, "open", "B adopted A's open breaker");
  assert.equal(await arkBreaker(b), "2");
  const arkCalls = b.emulator?.stats.byApi.ark;
  const served = await generate(b, "served elsewhere");
  assert.equal(served.statusCode, 200);
  assert.equal(served.headers["x-gateway-provider"], "emulator-302ai");
  assert.equal(b.emulator?.stats.byApi.ark, arkCalls, "B did not call Ark");
  time += 30_000;
  assert.equal((await generate(a, "probe")).headers["x-gateway-provider"], "emulator", "A's probe reached Ark");
  assert.equal(a.resilience.breaker("ark").state, "closed");
  for (let wait = 0; wait < 100 && b.resilience.breaker("ark").state !== "closed"; wait += 1) await sleep(20);
  assert.equal(b.resilience.breaker("ark").state, "closed", "B adopted the close");
  assert.equal((await generate(b, "back")).headers["x-gateway-provider"], "emulator");
});

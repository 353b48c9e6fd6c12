// Two gateways on one database and the machine's Redis: a key's rate and concurrency limits hold across both.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { loadConfig } from "../config/environment.js";
import { createGateway, type Gateway } from "../server/runtime.js";
import { CLASSIC_LIVE_CONFIG, TEST_KEY } from "../testing/harness.js";

const REDIS_URL = "redis://127.0.0.1:6379/0";
const prefix = `doubao-gateway-test:${process.pid}:${Date.now()}:`;
const dataDir = mkdtempSync(join(tmpdir(), "doubao-gateway-redis-"));
let a: Gateway;
let b: Gateway;

const environment = { DATA_DIR: dataDir, GATEWAY_EMULATE: "1", GATEWAY_BOOTSTRAP_KEY: TEST_KEY, PUBLIC_BASE_URL: "http://gw.test", GATEWAY_CONFIG: CLASSIC_LIVE_CONFIG, REDIS_URL };

before(async () => {
  a = await createGateway(loadConfig(environment), { redisPrefix: prefix });
  b = await createGateway(loadConfig(environment), { redisPrefix: prefix });
});
after(async () => {
  await a.close();
  await b.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const drawing = (gateway: Gateway, secret: string, prompt = "a kite") =>
  gateway.app.inject({
    method: "POST", url: "/doubao/drawing", headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    payload: JSON.stringify({ prompt, width: 256, height: 256, use_sr: false, return_url: false }),
  });

test("rpm 3 across two gateways: A, B, A pass, the fourth on B is refused with Retry-After", async () => {
  const { secret } = (await a.keys.create({ name: "shared-rpm", rpm: 3 }));
  assert.equal((await drawing(a, secret)).statusCode, 200);
  assert.equal((await drawing(b, secret)).statusCode, 200);
  assert.equal((await drawing(a, secret)).statusCode, 200);
  const fourth = await drawing(b, secret);
  assert.equal(fourth.statusCode, 429);
  assert.equal(fourth.json().error.err_code, -10012);
  assert.match(fourth.json().error.message, /^This API key may make 3 requests per minute; retry in \d+ s\.$/);
  assert.match(String(fourth.headers["retry-after"]), /^[1-9]\d*$/);
});

test("concurrency 1 across two gateways: while A runs the key's request, B refuses the next; after it, B serves", async () => {
  const { secret, record } = (await a.keys.create({ name: "shared-concurrency", concurrency: 1 }));
  const slow = drawing(a, secret, "slow [[fault:slow:800]]");
  await new Promise((resolve) => setTimeout(resolve, 200));
  const refused = await drawing(b, secret);
  assert.equal(refused.statusCode, 429);
  assert.equal(refused.json().error.message, "This API key may run 1 request at a time; retry when one has finished.");
  assert.equal((await slow).statusCode, 200);
  // Once the answer is in, the slot is free in Redis (the race this guards over HTTP is in scale-out.test.ts).
  const redis = new Redis(REDIS_URL);
  try {
    assert.equal(await redis.zcard(`${prefix}running:${record.id}`), 0);
  } finally {
    redis.disconnect();
  }
  assert.equal((await drawing(b, secret)).statusCode, 200);
});

test("Redis down: a key with limits gets 503 LimitsUnavailable (nothing sent, nothing charged); a key without limits and /health are served", async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const port = (closed.address() as { port: number }).port;
  await new Promise((resolve) => closed.close(resolve));
  const down = await createGateway(loadConfig({ ...environment, REDIS_URL: `redis://127.0.0.1:${port}/0` }), { redisPrefix: prefix });
  try {
    const { secret } = (await down.keys.create({ name: "limited-when-down", rpm: 10 }));
    const calls = down.emulator?.stats.requests ?? 0;
    const refused = await drawing(down, secret);
    assert.equal(refused.statusCode, 503);
    assert.equal(refused.json().error.code, "LimitsUnavailable");
    assert.equal(refused.json().error.err_code, -10008);
    assert.match(refused.json().error.message, /^The gateway cannot check this API key's rate and concurrency limits right now \(Redis: .+\); nothing was sent upstream or charged\. Retry shortly\.$/);
    assert.equal(down.emulator?.stats.requests, calls);
    assert.equal((await drawing(down, TEST_KEY)).statusCode, 200);
    assert.equal((await down.app.inject({ method: "GET", url: "/health" })).statusCode, 200);
    const ready = await down.app.inject({ method: "GET", url: "/ready" });
    assert.equal(ready.statusCode, 503);
    assert.equal(ready.json().reason, "redis is not reachable");
    assert.match(ready.json().dependencies.redis, /^down: /);
    assert.deepEqual([ready.json().dependencies.database, ready.json().dependencies.storage], ["ok", "ok"]);
    assert.equal((await a.app.inject({ method: "GET", url: "/ready" })).json().dependencies.redis, "ok");
  } finally {
    await down.close();
  }
});

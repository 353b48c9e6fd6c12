// Failure paths over real loopback HTTP: a standalone emulator plays Ark, Visual and 302.AI; the gateway
// runs with credentials (no embedded emulator) and an injected clock, so every delay is checked without sleeping.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import sharp from "sharp";
import { loadConfig } from "../config/environment.js";
import { MARK_TEXT, markBox } from "../images/watermark.js";
import { createEmulator, type Emulator } from "../emulator/server.js";
import { createGateway, type Gateway } from "../server/runtime.js";
import { openSqliteDataDir } from "../stores/sql/sqlite.js";
import { dataUrl, testImage, TEST_KEY, type Json } from "../testing/harness.js";
import { parseRetryAfter } from "../providers/http.js";
import { CircuitBreaker, Resilience, type Clock } from "./resilience.js";

// Fake, but shaped like the real thing, so that a leak would be visible.
const SECRETS = {
  ark: "ark-5f0c2a1e-7b3d-4e9a-9c61-2f8d0b7a4e13",
  accessKey: "AKLTYjQ1NzE2ZjRlOGI0NDY3ZWE5ZDFhOGM3",
  secretKey: "TmpNek9HRTJOMlkwWm1Vd05EUTNaR0V5WlRJd1pHVT0=",
  api302: "sk-302test9c7a61d4e2b84f3a9d0c5e7f1a2b3c4d",
};

class FakeClock implements Clock {
  time = Date.now();
  readonly sleeps: number[] = [];
  now() {
    return this.time;
  }
  async sleep(ms: number) {
    this.sleeps.push(ms);
    this.time += ms;
  }
}

let emulator: Emulator;
let base = "";
const root = mkdtempSync(join(tmpdir(), "doubao-gateway-resilience-"));
const logLines: string[] = [];
const answers: string[] = [];
const signatures = new Set<string>();
const visualSigned: Array<{ date: string; signature: string }> = [];
/** Bodies the emulator received on its 302.AI routes. */
const relayBodies: Json[] = [];

before(async () => {
  emulator = createEmulator({ arkApiKey: SECRETS.ark, accessKeyId: SECRETS.accessKey, secretAccessKey: SECRETS.secretKey, api302Key: SECRETS.api302 });
  emulator.app.addHook("onRequest", async (request) => {
    const signature = /Signature=([0-9a-f]+)/.exec(String(request.headers.authorization ?? ""))?.[1];
    if (signature) {
      signatures.add(signature);
      visualSigned.push({ date: String(request.headers["x-date"]), signature });
    }
  });
  emulator.app.addHook("preHandler", async (request) => {
    if (request.url.startsWith("/doubao/")) relayBodies.push(JSON.parse((request.body as Buffer).toString("utf8")));
  });
  base = await emulator.listen(0, "127.0.0.1");
});
after(async () => {
  await emulator.close();
  rmSync(root, { recursive: true, force: true });
});

const SEEDREAM = "doubao-seedream-3-0-t2i-250415";
const DEFAULTS = `
attempt_timeout_ms: 5000
retry: { max_attempts: 3, base_delay_ms: 400, max_delay_ms: 5000 }
breaker: { failure_threshold: 100, cooldown_ms: 30000 }
`;

interface Opened {
  gateway: Gateway;
  clock: FakeClock;
  post(url: string, body: unknown): Promise<{ status: number; json: Json; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

let opened = 0;
async function open(yaml: string, environment: Record<string, string> = {}): Promise<Opened> {
  opened += 1;
  const dataDir = join(root, `gw${opened}`);
  const configPath = join(root, `gateway${opened}.yaml`);
  // Seedream 3.0 and SeedEdit 3.0 served as themselves: these tests are about the upstreams, not the model lifecycle.
  const config = (parseYaml(yaml) ?? {}) as { models?: Record<string, Record<string, unknown>> };
  config.models ??= {};
  for (const id of [SEEDREAM, "doubao-seededit-3-0-i2i-250628"]) config.models[id] = { ...config.models[id], lifecycle: "live" };
  writeFileSync(configPath, stringifyYaml(config));
  const clock = new FakeClock();
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  const gateway = await createGateway(
    loadConfig({
      NODE_ENV: "production", DATA_DIR: dataDir, GATEWAY_BOOTSTRAP_KEY: TEST_KEY, PUBLIC_BASE_URL: "http://gw.test", GATEWAY_CONFIG: configPath,
      ARK_API_KEY: SECRETS.ark, ARK_BASE_URL: `${base}/api/v3`,
      VOLC_ACCESSKEY: SECRETS.accessKey, VOLC_SECRETKEY: SECRETS.secretKey, VOLC_VISUAL_BASE_URL: base,
      API302_KEY: SECRETS.api302, API302_BASE_URL: base,
      ...environment,
    }),
    { clock, random: () => 0, logger: { level: "debug", stream } },
  );
  return {
    gateway,
    clock,
    async post(url, body) {
      const response = await gateway.app.inject({
        method: "POST", url, headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" }, payload: JSON.stringify(body),
      });
      answers.push(JSON.stringify(response.headers), response.body.slice(0, 20_000));
      return { status: response.statusCode, json: response.json(), headers: response.headers };
    },
    close: () => gateway.close(),
  };
}

/** Requests the emulator received per API during `run`. */
async function counted<T>(run: () => Promise<T>): Promise<{ result: T; calls: { ark: number; visual: number; "302": number } }> {
  const start = { ...emulator.stats.byApi };
  const result = await run();
  const end = emulator.stats.byApi;
  return { result, calls: { ark: end.ark - start.ark, visual: end.visual - start.visual, "302": end["302"] - start["302"] } };
}

async function queueFault(fault: string, api: "ark" | "visual" | "302" | "any", times = 1, retryAfter?: number) {
  const response = await fetch(`${base}/_emulator/faults`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ fault, api, times, ...(retryAfter !== undefined ? { retry_after: retryAfter } : {}) }),
  });
  assert.equal(response.status, 201);
}

const seedream = (prompt: string) => ({ model: SEEDREAM, prompt, size: "512x512", response_format: "b64_json" });
const drawing = (prompt: string, extra: Record<string, unknown> = {}) => ({ prompt, width: 256, height: 256, use_sr: false, return_url: false, ...extra });

describe("retries on the same provider", () => {
  let gw: Opened;
  before(async () => (gw = await open(DEFAULTS)));
  after(() => gw.close());

  test("Ark ServerOverloaded twice: three attempts, delays 200 then 400 ms (base 400 × 2^n, jitter floor 50 %)", async () => {
    const { result, calls } = await counted(() => gw.post("/doubao/images/generations", seedream("a lake [[fault:ark:ServerOverloaded*2]]")));
    assert.equal(result.status, 200);
    assert.equal(result.headers["x-gateway-provider"], "ark");
    assert.equal(result.json.data.length, 1);
    assert.deepEqual(calls, { ark: 3, visual: 0, "302": 0 });
    assert.deepEqual(gw.clock.sleeps, [200, 400]);
  });

  test("Retry-After from the upstream is the floor of the delay", async () => {
    gw.clock.sleeps.length = 0;
    const { result, calls } = await counted(() => gw.post("/doubao/images/generations", seedream("a hill [[fault:ark:ModelAccountIpmRateLimitExceeded*1,retry-after=3]]")));
    assert.equal(result.status, 200);
    assert.equal(calls.ark, 2);
    assert.deepEqual(gw.clock.sleeps, [3000]);
  });

  test("Visual 50429 twice on /doubao/drawing: three attempts, each signed afresh (new X-Date, new signature)", async () => {
    gw.clock.sleeps.length = 0;
    const firstSigned = visualSigned.length;
    const { result, calls } = await counted(() => gw.post("/doubao/drawing", drawing("a cat [[fault:visual:50429*2,retry-after=1]]")));
    assert.equal(result.status, 200);
    assert.equal(result.json.code, 10000);
    assert.deepEqual(calls, { ark: 0, visual: 3, "302": 0 });
    assert.deepEqual(gw.clock.sleeps, [1000, 1000]);
    const signed = visualSigned.slice(firstSigned);
    assert.equal(signed.length, 3);
    assert.equal(new Set(signed.map((entry) => entry.signature)).size, 3);
    assert.equal(new Set(signed.map((entry) => entry.date)).size, 3);
  });

  for (const [name, fault] of [["a dropped connection", "drop"], ["a malformed body", "malformed"], ["a bare 503 page", "http:503"], ["a bare 502 page", "http:502"], ["a bare 504 page", "http:504"]] as const) {
    test(`${name} is retried`, async () => {
      await queueFault(fault, "ark");
      const { result, calls } = await counted(() => gw.post("/doubao/images/generations", seedream(`retry after ${fault}`)));
      assert.equal(result.status, 200);
      assert.equal(calls.ark, 2);
    });
  }

  test("a content refusal is never retried and never falls back", async () => {
    gw.clock.sleeps.length = 0;
    const { result, calls } = await counted(() => gw.post("/doubao/images/generations", seedream("x [[fault:ark:OutputImageSensitiveContentDetected]]")));
    assert.equal(result.status, 400);
    assert.deepEqual(calls, { ark: 1, visual: 0, "302": 0 });
    assert.deepEqual(gw.clock.sleeps, []);
    assert.equal(result.json.error.code, "OutputImageSensitiveContentDetected");
    assert.equal(result.json.error.type, "invalid_request_error");
    assert.equal(result.json.error.err_code, -10003);
    assert.match(result.json.error.message, /^Content safety refusal: the upstream \(Ark\) refused the prompt or image \(OutputImageSensitiveContentDetected: The request failed because the output image may contain sensitive information\. Request id: \w+\)\. Change the prompt or image; retrying the same request will not help\.$/);
    assert.equal(result.json.error.message_cn, "内容安全审核未通过：上游拒绝了该请求的文本或图片。（OutputImageSensitiveContentDetected）请修改提示词或图片后再试。");
  });

  test("a Visual content refusal keeps the upstream code in the Volcengine fields", async () => {
    const { result, calls } = await counted(() => gw.post("/doubao/drawing", drawing("x [[fault:visual:50412]]")));
    assert.equal(result.status, 400);
    assert.equal(calls.visual, 1);
    assert.equal(calls["302"], 0);
    assert.equal(result.json.code, 50412);
    assert.equal(result.json.status, 50412);
    assert.equal(result.json.data, null);
    assert.equal(result.json.error.message, "Content safety refusal: the upstream (Visual) refused the prompt or image (50412: Text Risk Not Pass). Change the prompt or image; retrying the same request will not help.");
  });

  test("transient failures that outlast the attempts end with the last error, Retry-After included", async () => {
    await queueFault("ark:ServerOverloaded", "ark", 3);
    await queueFault("ark:ServerOverloaded", "302", 3);
    gw.clock.sleeps.length = 0;
    const { result, calls } = await counted(() => gw.post("/doubao/images/generations", seedream("always overloaded")));
    assert.deepEqual(calls, { ark: 3, visual: 0, "302": 3 });
    assert.deepEqual(gw.clock.sleeps, [200, 400, 200, 400]);
    // The upstream's overload, not the client's key: 503 -10008 with Retry-After, never a 429 the client would take for its own limit.
    assert.equal(result.status, 503);
    assert.equal(result.headers["retry-after"], "1");
    assert.equal(result.json.error.type, "upstream_error");
    assert.equal(result.json.error.err_code, -10008);
    assert.equal(result.json.error.code, "ServerOverloaded");
    assert.match(result.json.error.message, /^The upstream \(302\.AI\) is rate-limiting or overloaded \(ServerOverloaded: /);
  });
});

/** Seedream on Ark only, general_v2.0_L on Visual only, general_v2.0 on the relay only; two attempts each. */
const ONE_PROVIDER_EACH = `
attempt_timeout_ms: 300
retry: { max_attempts: 2, base_delay_ms: 100, max_delay_ms: 100 }
breaker: { failure_threshold: 1000 }
models:
  ${SEEDREAM}: { providers: [ark] }
  general_v2.0_L: { providers: [visual] }
  general_v2.0: { providers: [302ai] }
`;

describe("each transport failure, on each upstream, is retried", () => {
  let gw: Opened;
  before(async () => {
    gw = await open(ONE_PROVIDER_EACH);
  });
  after(() => gw.close());

  const requests = {
    ark: (prompt: string) => gw.post("/doubao/images/generations", seedream(prompt)),
    visual: (prompt: string) => gw.post("/doubao/drawing", drawing(prompt, { model_version: "general_v2.0_L" })),
    "302": (prompt: string) => gw.post("/doubao/drawing", drawing(prompt, { model_version: "general_v2.0" })),
  };
  for (const api of ["ark", "visual", "302"] as const) {
    for (const fault of ["drop", "malformed", "http:502", "http:503", "http:504", "slow:3000"]) {
      test(`${api}: ${fault}`, async () => {
        await queueFault(fault, api, 1);
        const { result, calls } = await counted(() => requests[api](`${api} ${fault}`));
        assert.equal(result.status, 200, JSON.stringify(result.json));
        assert.equal(calls[api], 2);
        assert.equal(calls.ark + calls.visual + calls["302"], 2);
      });
    }
  }

  test("and when it lasts, the client sees the contract's error for it", async () => {
    const cases: Array<[string, number, string]> = [
      ["drop", 502, "UpstreamUnavailable"], ["malformed", 502, "UpstreamBadResponse"], ["http:503", 502, "HTTP503"], ["slow:3000", 504, "UpstreamTimeout"],
    ];
    for (const [fault, status, code] of cases) {
      await queueFault(fault, "302", 2);
      const { result, calls } = await counted(() => requests["302"](`lasting ${fault}`));
      assert.equal(calls["302"], 2);
      assert.equal(result.status, status, fault);
      assert.equal(result.json.error.code, code, fault);
      assert.equal(result.json.error.type, "upstream_error");
      assert.match(result.json.error.message, /^The upstream \(302\.AI\) /);
    }
  });
});

describe("fallback", () => {
  let gw: Opened;
  before(async () => {
    gw = await open(`${DEFAULTS}
models:
  general_v2.1_L:
    providers: [302ai, visual]
  i2i_portrait_photo:
    providers: [{ provider: 302ai, timeout_ms: 4000 }]
  ${SEEDREAM}:
    aliases: [seedream-3]
    providers: [{ provider: ark, timeout_ms: 300 }, 302ai]
`);
  });
  after(() => gw.close());

  test("Ark fails three times: the 302.AI relay serves, after Ark's backoff", async () => {
    await queueFault("ark:InternalServiceError", "ark", 3);
    gw.clock.sleeps.length = 0;
    const { result, calls } = await counted(() => gw.post("/doubao/images/generations", seedream("fallback")));
    assert.equal(result.status, 200);
    assert.equal(result.headers["x-gateway-provider"], "302ai");
    assert.deepEqual(calls, { ark: 3, visual: 0, "302": 1 });
    assert.deepEqual(gw.clock.sleeps, [200, 400]);
  });

  test("a provider-side failure (credentials) falls back at once, without retrying", async () => {
    await queueFault("ark:AuthenticationError", "ark", 1);
    gw.clock.sleeps.length = 0;
    const { result, calls } = await counted(() => gw.post("/doubao/images/generations", { ...seedream("creds"), model: "seedream-3" }));
    assert.equal(result.status, 200);
    assert.equal(result.json.model, SEEDREAM);
    assert.deepEqual(calls, { ark: 1, visual: 0, "302": 1 });
    assert.deepEqual(gw.clock.sleeps, []);
    // The refusal took the account out of rotation at once (the operator fixes it before the next test).
    assert.equal(gw.gateway.resilience.breaker("ark").state, "open");
    gw.gateway.resilience.breaker("ark").succeeded();
  });

  test("the configured order is followed: 302.AI first for general_v2.1_L, Visual after it", async () => {
    const first = await counted(() => gw.post("/doubao/drawing", drawing("order")));
    assert.equal(first.result.status, 200);
    assert.equal(first.result.headers["x-gateway-provider"], "302ai");
    assert.deepEqual(first.calls, { ark: 0, visual: 0, "302": 1 });
    await queueFault("302:-10004", "302", 1);
    const second = await counted(() => gw.post("/doubao/drawing", drawing("order")));
    assert.equal(second.result.status, 200);
    assert.equal(second.result.headers["x-gateway-provider"], "visual");
    assert.deepEqual(second.calls, { ark: 0, visual: 1, "302": 1 });
    gw.gateway.resilience.breaker("302ai").succeeded();
  });

  test("a 302.AI account error with no provider left is a 502 that tells the operator what to do", async () => {
    await queueFault("302:-10004", "302", 1);
    const photo = dataUrl(await testImage(600, 800));
    const { result, calls } = await counted(() => gw.post("/doubao/drawing/portrait", { image_input: photo }));
    assert.equal(calls["302"], 1);
    assert.equal(result.status, 502);
    assert.deepEqual(result.json.error, {
      code: "Relay10004",
      message: "The upstream (302.AI) refused the gateway's account (-10004: Insufficient account balance); the operator must top up the 302.AI account (insufficient balance).",
      message_cn: "上游（302.AI）拒绝了网关的账号（-10004），请联系网关管理员。",
      param: null,
      type: "upstream_error",
      err_code: -10011,
    });
    assert.equal(result.json.code, -10004);
    gw.gateway.resilience.breaker("302ai").succeeded();
  });

  test("an expired result URL from the relay fails the attempt, which is made again: stored images or an error, never a dead URL", async () => {
    await queueFault("expired-url", "302", 1);
    const photo = dataUrl(await testImage(600, 800));
    const { result, calls } = await counted(() => gw.post("/doubao/drawing/portrait", { image_input: photo, width: 512, height: 512 }));
    assert.equal(result.status, 200);
    assert.equal(calls["302"], 2);
    const url = result.json.data.image_urls[0] as string;
    assert.match(url, /^http:\/\/gw\.test\/files\/\d{8}\/[\w-]+\.jpeg$/);
    const file = await gw.gateway.app.inject({ method: "GET", url: url.slice("http://gw.test".length) });
    assert.equal(file.statusCode, 200);
    assert.equal(file.headers["content-type"], "image/jpeg");
  });

  test("an attempt that outlives its timeout is abandoned (the emulator sees the abort) and retried", async () => {
    const abortedBefore = emulator.stats.aborted;
    await queueFault("slow:5000", "ark", 1);
    const { result, calls } = await counted(() => gw.post("/doubao/images/generations", seedream("slow once")));
    assert.equal(result.status, 200);
    assert.equal(result.headers["x-gateway-provider"], "ark");
    assert.equal(calls.ark, 2);
    while (emulator.stats.aborted === abortedBefore) await sleep(10);
    assert.equal(emulator.stats.aborted, abortedBefore + 1);
  });

  test("the relay is asked for no mark; the gateway draws the one asked for, in the bottom-right corner only", async () => {
    const marked = async (watermark: boolean) => {
      await queueFault("ark:ServerOverloaded", "ark", 3);
      const { result } = await counted(() => gw.post("/doubao/images/generations", { ...seedream("marked"), seed: 7, watermark }));
      assert.equal(result.status, 200);
      assert.equal(result.headers["x-gateway-provider"], "302ai");
      assert.equal(relayBodies.at(-1).watermark, false);
      return Buffer.from(result.json.data[0].b64_json, "base64");
    };
    const [withMark, without] = [await marked(true), await marked(false)];
    const box = markBox(512, 512, MARK_TEXT.chinese, 0);
    const inside = await meanDifference(withMark, without, box);
    const outside = await meanDifference(withMark, without, { left: 0, top: 0, width: 512, height: box.top - 4 });
    assert.ok(inside > 8, `the mark changes its box (mean difference ${inside.toFixed(2)})`);
    assert.ok(outside < 1.5, `and nothing above it (mean difference ${outside.toFixed(2)})`);
  });
  test("a drawing's logo_info is drawn by the gateway for the relay: custom text, top-left, at its opacity", async () => {
    const draw = async (addLogo: boolean) => {
      const logo = { add_logo: addLogo, position: 2, language: 0, opacity: 0.8, logo_text_content: "Acme 生成" };
      const { result } = await counted(() => gw.post("/doubao/drawing", drawing("logo", { seed: 11, logo_info: logo })));
      assert.equal(result.status, 200);
      assert.equal(result.headers["x-gateway-provider"], "302ai");
      assert.equal(relayBodies.at(-1).logo_info.add_logo, false);
      return Buffer.from(result.json.data.binary_data_base64[0], "base64");
    };
    const [withLogo, without] = [await draw(true), await draw(false)];
    const box = markBox(256, 256, "Acme 生成", 2);
    assert.ok(box.left < 32 && box.top < 32, JSON.stringify(box));
    assert.ok((await meanDifference(withLogo, without, box)) > 8);
    assert.ok((await meanDifference(withLogo, without, { left: 0, top: box.top + box.height + 8, width: 256, height: 256 - box.top - box.height - 8 })) < 1.5);
  });
});

/** Mean absolute difference per channel of two images over a region. */
async function meanDifference(a: Buffer, b: Buffer, region: { left: number; top: number; width: number; height: number }): Promise<number> {
  const raw = (image: Buffer) => sharp(image).extract(region).removeAlpha().raw().toBuffer();
  const [first, second] = [await raw(a), await raw(b)];
  let sum = 0;
  for (let index = 0; index < first.length; index += 1) sum += Math.abs((first[index] as number) - (second[index] as number));
  return sum / first.length;
}

describe("the circuit breaker", () => {
  let gw: Opened;
  before(async () => {
    gw = await open(`
retry: { max_attempts: 1 }
breaker: { failure_threshold: 2, cooldown_ms: 30000 }
models:
  ${SEEDREAM}:
    providers: [ark]
`);
  });
  after(() => gw.close());

  test("opens after 2 failures, answers 503 without calling the upstream, lets one probe through after the cooldown, closes on success", async () => {
    await queueFault("ark:InternalServiceError", "ark", 2);
    for (let index = 0; index < 2; index += 1) assert.equal((await gw.post("/doubao/images/generations", seedream("b"))).status, 502);
    const open = await counted(() => gw.post("/doubao/images/generations", seedream("b")));
    assert.equal(open.calls.ark, 0);
    assert.equal(open.result.status, 503);
    assert.equal(open.result.headers["retry-after"], "30");
    assert.equal(open.result.json.error.err_code, -10008);
    assert.equal(open.result.json.error.message, `No upstream is available for model ${SEEDREAM} right now: ark failed repeatedly and rests for 30 s. Retry later.`);

    gw.clock.time += 29_000;
    assert.equal((await counted(() => gw.post("/doubao/images/generations", seedream("b")))).calls.ark, 0);
    gw.clock.time += 1_000;
    await queueFault("ark:InternalServiceError", "ark", 1);
    const failedProbe = await counted(() => gw.post("/doubao/images/generations", seedream("b")));
    assert.equal(failedProbe.calls.ark, 1);
    assert.equal(failedProbe.result.status, 502);
    assert.equal((await counted(() => gw.post("/doubao/images/generations", seedream("b")))).calls.ark, 0, "a failed probe opens it again");

    gw.clock.time += 30_000;
    const probe = await counted(() => gw.post("/doubao/images/generations", seedream("b")));
    assert.equal(probe.calls.ark, 1);
    assert.equal(probe.result.status, 200);
    const closed = await counted(() => gw.post("/doubao/images/generations", seedream("b")));
    assert.equal(closed.calls.ark, 1);
    assert.equal(closed.result.status, 200);
  });
});

test("the overall deadline stops retries that would end after it", async () => {
  const gw = await open(`
deadline_ms: 2500
retry: { max_attempts: 10, base_delay_ms: 1000, max_delay_ms: 1000 }
models:
  ${SEEDREAM}:
    providers: [ark]
`);
  try {
    await queueFault("ark:ServerOverloaded", "ark", 10);
    const { result, calls } = await counted(() => gw.post("/doubao/images/generations", seedream("deadline")));
    assert.equal(result.status, 503);
    // Delays are 500 ms each (1000 × 50 %): attempts at 0, 500, 1000, 1500, 2000; a sixth would start at 2500.
    assert.equal(calls.ark, 5);
    assert.deepEqual(gw.clock.sleeps, [500, 500, 500, 500]);
  } finally {
    await fetch(`${base}/_emulator/faults`, { method: "DELETE" });
    await gw.close();
  }
});

// Every code of UPSTREAMS.md and 302AI-NOTES.md, as the client sees it: status, type, code, and whether it was retried.
const ARK_TABLE: Array<[string, number, string, boolean]> = [
  ["MissingParameter", 400, "invalid_request_error", false],
  ["InvalidParameter", 400, "invalid_request_error", false],
  ["InvalidEndpoint.ClosedEndpoint", 502, "upstream_error", false],
  ["SensitiveContentDetected", 400, "invalid_request_error", false],
  ["SensitiveContentDetected.SevereViolation", 400, "invalid_request_error", false],
  ["SensitiveContentDetected.Violence", 400, "invalid_request_error", false],
  ["InputTextSensitiveContentDetected", 400, "invalid_request_error", false],
  ["InputImageSensitiveContentDetected", 400, "invalid_request_error", false],
  ["OutputImageSensitiveContentDetected", 400, "invalid_request_error", false],
  ["AuthenticationError", 502, "upstream_error", false],
  ["AccountOverdueError", 502, "upstream_error", false],
  ["AccessDenied", 502, "upstream_error", false],
  ["OperationDenied.ServiceNotOpen", 502, "upstream_error", false],
  ["InvalidEndpointOrModel.NotFound", 502, "upstream_error", false],
  ["ModelNotOpen", 502, "upstream_error", false],
  ["RateLimitExceeded.EndpointRPMExceeded", 503, "upstream_error", true],
  ["RateLimitExceeded.EndpointTPMExceeded", 503, "upstream_error", true],
  ["ModelAccountRpmRateLimitExceeded", 503, "upstream_error", true],
  ["ModelAccountTpmRateLimitExceeded", 503, "upstream_error", true],
  ["ModelAccountIpmRateLimitExceeded", 503, "upstream_error", true],
  ["QuotaExceeded", 429, "rate_limit_error", false],
  ["ServerOverloaded", 503, "upstream_error", true],
  ["SetLimitExceeded", 429, "rate_limit_error", false],
  ["InflightBatchsizeExceeded", 503, "upstream_error", true],
  ["AccountRateLimitExceeded", 503, "upstream_error", true],
  ["InternalServiceError", 502, "upstream_error", true],
];
const VISUAL_TABLE: Array<[number, number, string, boolean]> = [
  [50411, 400, "invalid_request_error", false], [50511, 400, "invalid_request_error", true], [50412, 400, "invalid_request_error", false],
  [50512, 400, "invalid_request_error", false], [50413, 400, "invalid_request_error", false], [50518, 400, "invalid_request_error", false],
  [50519, 400, "invalid_request_error", true], [60208, 400, "invalid_request_error", false],
  [50520, 502, "upstream_error", false], [50521, 502, "upstream_error", false], [50522, 502, "upstream_error", false],
  [50429, 503, "upstream_error", true], [50430, 503, "upstream_error", true],
  [50500, 502, "upstream_error", true], [50501, 502, "upstream_error", true],
  [50200, 400, "invalid_request_error", false], [50201, 400, "invalid_request_error", false], [50204, 400, "invalid_request_error", false],
  [50205, 400, "invalid_request_error", false], [50206, 400, "invalid_request_error", false], [50207, 400, "invalid_request_error", false],
  [50213, 400, "invalid_request_error", false], [50215, 400, "invalid_request_error", false], [60102, 400, "invalid_request_error", false],
  [50400, 502, "upstream_error", false], [50402, 502, "upstream_error", false],
  [100002, 502, "upstream_error", false], [100004, 502, "upstream_error", false], [100006, 502, "upstream_error", false],
  [100007, 502, "upstream_error", false], [100008, 502, "upstream_error", false], [100009, 502, "upstream_error", false],
  [100010, 502, "upstream_error", false], [100013, 502, "upstream_error", false], [100014, 502, "upstream_error", true],
  [100016, 504, "upstream_error", true], [100018, 503, "upstream_error", true], [100019, 502, "upstream_error", true],
  [100023, 502, "upstream_error", true], [100024, 502, "upstream_error", false], [100025, 502, "upstream_error", false],
  [100026, 502, "upstream_error", false],
];
const RELAY_TABLE: Array<[number, number, string, boolean]> = [
  [-10001, 502, "upstream_error", false], [-10002, 502, "upstream_error", false], [-10003, 400, "invalid_request_error", false],
  [-10004, 502, "upstream_error", false], [-10005, 502, "upstream_error", false], [-10006, 502, "upstream_error", false],
  [-10007, 502, "upstream_error", false], [-10008, 502, "upstream_error", true], [-10009, 502, "upstream_error", false],
  [-10010, 502, "upstream_error", false], [-10011, 400, "invalid_request_error", false], [-10012, 503, "upstream_error", true],
  [-10013, 502, "upstream_error", false], [-10018, 502, "upstream_error", false],
];

describe("every upstream code maps to the contract's envelope", () => {
  let gw: Opened;
  before(async () => {
    gw = await open(ONE_PROVIDER_EACH);
  });
  after(() => gw.close());

  // A refusal of the gateway's account (401, 403…) takes it out of rotation at once; each row of a table starts as if the
  // operator had fixed it, so that it tells the row's own classification.
  const fixed = () => {
    for (const id of ["ark", "visual", "302ai"]) gw.gateway.resilience.breaker(id).succeeded();
  };
  const check = (result: { status: number; json: Json; headers: Record<string, unknown> }, status: number, type: string) => {
    fixed();
    assert.equal(result.status, status);
    assert.equal(result.json.error.type, type);
    assert.equal(result.json.error.err_code, status === 400 ? -10003 : status === 503 ? -10008 : -10011);
    assert.equal(typeof result.json.error.message_cn, "string");
    if (status === 429 || status === 503) assert.match(String(result.headers["retry-after"]), /^[1-9]\d*$/);
    if (type === "invalid_request_error" && /Sensitive|Risk/.test(JSON.stringify(result.json))) {
      assert.match(result.json.error.message, /^Content safety refusal: /);
      assert.match(result.json.error.message_cn, /^内容安全审核未通过/);
    }
  };

  test(`Ark: ${ARK_TABLE.length} codes`, async () => {
    for (const [code, status, type, retried] of ARK_TABLE) {
      const { result, calls } = await counted(() => gw.post("/doubao/images/generations", seedream(`code [[fault:ark:${code}]]`)));
      check(result, status, type);
      assert.equal(result.json.error.code, code, code);
      assert.ok(result.json.error.message.includes(code), code);
      assert.equal(calls.ark, retried ? 2 : 1, `${code} retried: ${retried}`);
    }
  });

  test(`Visual: ${VISUAL_TABLE.length} business and gateway codes, the code kept in the Volcengine fields`, async () => {
    for (const [code, status, type, retried] of VISUAL_TABLE) {
      const { result, calls } = await counted(() => gw.post("/doubao/drawing", drawing(`code [[fault:visual:${code}]]`, { model_version: "general_v2.0_L" })));
      check(result, status, type);
      assert.equal(result.json.code, code, String(code));
      assert.ok(result.json.error.message.includes(String(code)), String(code));
      assert.equal(calls.visual, retried ? 2 : 1, `${code} retried: ${retried}`);
    }
  });

  test(`302.AI: ${RELAY_TABLE.length} err_codes`, async () => {
    for (const [code, status, type, retried] of RELAY_TABLE) {
      const { result, calls } = await counted(() => gw.post("/doubao/drawing", drawing(`code [[fault:302:${code}]]`, { model_version: "general_v2.0" })));
      check(result, status, type);
      assert.equal(result.json.code, code, String(code));
      assert.ok(result.json.error.message.includes(String(code)), String(code));
      assert.equal(calls["302"], retried ? 2 : 1, `${code} retried: ${retried}`);
    }
  });
});

test("a client that disconnects mid-request aborts the upstream request", async () => {
  const gw = await open(DEFAULTS);
  const address = await gw.gateway.app.listen({ port: 0, host: "127.0.0.1" });
  try {
    const seenBefore = emulator.stats.byApi.ark;
    const abortedBefore = emulator.stats.aborted;
    const client = new AbortController();
    const pending = fetch(`${address}/doubao/images/generations`, {
      method: "POST", headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" },
      body: JSON.stringify(seedream("hang up [[fault:slow:60000]]")), signal: client.signal,
    }).catch((error: Error) => error.name);
    while (emulator.stats.byApi.ark === seenBefore) await sleep(10);
    client.abort();
    assert.equal(await pending, "AbortError");
    while (emulator.stats.aborted === abortedBefore) await sleep(10);
    assert.equal(emulator.stats.aborted, abortedBefore + 1);
    assert.equal(emulator.stats.byApi.ark, seenBefore + 1, "no retry after the client left");
    // The ledger records it, uncharged, as the client's doing.
    const database = openSqliteDataDir(join(root, `gw${opened}`));
    try {
      const rows = () => database.prepare("SELECT status, error_code, charged FROM usage WHERE state = 'settled'").all();
      while (rows().length === 0) await sleep(10);
      assert.deepEqual(rows(), [{ status: 499, error_code: "ClientClosedRequest", charged: 0 }]);
    } finally {
      database.close();
    }
  } finally {
    await gw.close();
  }
});

test("no log line and no response of the failure tests above contains a credential or a signature", () => {
  assert.ok(logLines.length > 50, `${logLines.length} log lines captured`);
  assert.ok(answers.length > 200, `${answers.length} response heads and bodies captured`);
  assert.ok(signatures.size > 10, `${signatures.size} signatures seen by the emulator`);
  assert.ok(logLines.some((line) => line.includes("upstream attempt failed")), "attempts are logged");
  const haystacks = [...logLines, ...answers];
  for (const [name, secret] of Object.entries(SECRETS)) {
    for (const text of haystacks) assert.ok(!text.includes(secret), `${name} leaked: ${text.slice(0, 200)}`);
  }
  for (const signature of signatures) {
    for (const text of haystacks) assert.ok(!text.includes(signature), `a signature leaked: ${text.slice(0, 200)}`);
  }
});

describe("resilience units", () => {
  test("jitter stays within 50–100 % of the capped exponential delay", () => {
    const low = new Resilience({ policy: { baseDelayMs: 500, maxDelayMs: 8000 }, random: () => 0 });
    const high = new Resilience({ policy: { baseDelayMs: 500, maxDelayMs: 8000 }, random: () => 0.999999 });
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => low.backoff(n)), [250, 500, 1000, 2000, 4000, 4000]);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => high.backoff(n)), [500, 1000, 2000, 4000, 8000, 8000]);
  });

  test("Retry-After is read as seconds or as an HTTP-date", () => {
    const now = Date.UTC(2026, 10, 22, 12, 0, 0);
    assert.equal(parseRetryAfter("3", now), 3);
    assert.equal(parseRetryAfter("Sun, 22 Nov 2026 12:00:07 GMT", now), 7);
    assert.equal(parseRetryAfter("Sun, 22 Nov 2026 11:59:00 GMT", now), undefined);
    assert.equal(parseRetryAfter("0", now), undefined);
    assert.equal(parseRetryAfter("soon", now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
  });

  test("a half-open breaker lets exactly one probe through", () => {
    const breaker = new CircuitBreaker({ policy: { failureThreshold: 1, cooldownMs: 1000 } });
    breaker.failed(0);
    assert.equal(breaker.tryAcquire(999), false);
    assert.equal(breaker.tryAcquire(1000), true);
    assert.equal(breaker.state, "half-open");
    assert.equal(breaker.tryAcquire(1001), false);
    breaker.succeeded();
    assert.equal(breaker.state, "closed");
    assert.equal(breaker.tryAcquire(1002), true);
  });
});

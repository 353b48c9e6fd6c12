// Keys, limits, quotas and the usage ledger, end to end on the embedded emulator (loopback only), with the
// gateway's clock injected so expiry and daily resets are tested at their exact edges.
import { hostname } from "node:os";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createHash } from "node:crypto";
import { openSqliteDataDir } from "../stores/sql/sqlite.js";
import { startHarness, testImage, TEST_KEY, type Harness, type Json } from "../testing/harness.js";

const SEEDREAM = "doubao-seedream-3-0-t2i-250415";
const DAY = 86_400_000;
/** 2026-11-22T10:00:00Z */
const T0 = Date.UTC(2026, 10, 22, 10);

let h: Harness;
let now = T0;
let slowImage: { release(): void; requested: Promise<void> } | undefined;
let imageServer: Server;
let imagePort = 0;

before(async () => {
  const photo = await testImage(800, 600, "png");
  imageServer = createServer((request, response) => {
    const send = () => response.writeHead(200, { "content-type": "image/png" }).end(photo);
    if (request.url === "/slow.png" && slowImage) {
      const pending = slowImage;
      slowImage = undefined;
      (pending as unknown as { arrived(): void }).arrived();
      (pending as unknown as { wait: Promise<void> }).wait.then(send);
    } else send();
  });
  await new Promise<void>((resolve) => imageServer.listen(0, "127.0.0.1", resolve));
  imagePort = (imageServer.address() as AddressInfo).port;
  h = await startHarness({}, {
    now: () => now,
    fetchPolicy: { resolve: async () => ["93.184.216.34"], dial: () => "127.0.0.1" },
  });
});
beforeEach(() => {
  now = T0;
});
after(async () => {
  await h.close();
  imageServer.closeAllConnections();
  imageServer.close();
});

/** Holds the next request for /slow.png until released; `requested` resolves when it arrives. */
function holdNextImage() {
  let release!: () => void;
  let arrived!: () => void;
  const wait = new Promise<void>((resolve) => (release = resolve));
  const requested = new Promise<void>((resolve) => (arrived = resolve));
  slowImage = Object.assign({ release, requested }, { wait, arrived }) as never;
  return { release, requested };
}

const admin = (method: "GET" | "POST" | "PATCH" | "DELETE", url: string, body?: unknown, key = TEST_KEY) =>
  h.gateway.app.inject({ method, url, headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) }, ...(body !== undefined ? { payload: JSON.stringify(body) } : {}) });

async function newKey(settings: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const response = await admin("POST", "/admin/keys", { name: `k${Math.random().toString(36).slice(2, 8)}`, ...settings });
  assert.equal(response.statusCode, 201, response.body);
  const body = response.json();
  return { id: body.key.id, secret: body.secret };
}

const seedream = (secret: string, extra: Record<string, unknown> = {}, url = "/doubao/images/generations") =>
  h.post(url, { model: SEEDREAM, prompt: "a quota test", size: "512x512", response_format: "b64_json", watermark: false, ...extra }, { authorization: `Bearer ${secret}` });

const errorOf = (response: { status: number; json: Json; headers: Record<string, unknown> }) => ({ status: response.status, ...response.json.error, retryAfter: response.headers["retry-after"] });

describe("the admin key API", () => {
  test("create shows the secret once; only a hash and a prefix are stored; list, show, update, disable, enable, delete", async () => {
    const created = await admin("POST", "/admin/keys", {
      name: "team-a", expires_at: "2027-01-01T00:00:00Z", allowed_models: [SEEDREAM], rpm_limit: 60, concurrency_limit: 4,
      daily_image_quota: 100, total_image_quota: 1000, daily_spend_limit: 25.5, total_spend_limit: 250,
    });
    assert.equal(created.statusCode, 201);
    const { key, secret } = created.json();
    assert.match(secret, /^dg_[A-Za-z0-9_-]{40}$/);
    assert.deepEqual({ ...key, id: "-", created_at: "-" }, {
      id: "-", name: "team-a", prefix: secret.slice(0, 12), role: "user", status: "active", created_at: "-", disabled_at: null,
      expires_at: "2027-01-01T00:00:00.000Z", allowed_models: [SEEDREAM], rpm_limit: 60, concurrency_limit: 4, daily_image_quota: 100,
      total_image_quota: 1000, daily_spend_limit: 25.5, total_spend_limit: 250, webhook_url: null, failed_images: "inline", currency: "CNY",
      usage: { images_today: 0, images_total: 0, spend_today: 0, spend_total: 0 },
    });
    const shown = (await admin("GET", `/admin/keys/${key.id}`)).json();
    assert.equal(JSON.stringify(shown).includes(secret), false);
    const database = openSqliteDataDir(h.dataDir);
    try {
      const stored = database.prepare("SELECT * FROM api_keys WHERE id = ?").get(key.id) as Record<string, unknown>;
      assert.deepEqual((stored.hash as Buffer).toString("hex"), createHash("sha256").update(secret).digest("hex"));
      for (const [column, value] of Object.entries(stored)) assert.ok(!String(value).includes(secret.slice(12)), `${column} holds the secret`);
    } finally {
      database.close();
    }
    const listed = (await admin("GET", "/admin/keys")).json();
    assert.equal(listed.object, "list");
    assert.ok(listed.data.some((entry: Json) => entry.id === key.id));
    assert.equal(JSON.stringify(listed).includes(secret.slice(12)), false);

    const patched = (await admin("PATCH", `/admin/keys/${key.id}`, { rpm_limit: null, allowed_models: null, name: "team-b" })).json();
    assert.deepEqual([patched.name, patched.rpm_limit, patched.allowed_models, patched.concurrency_limit], ["team-b", null, null, 4]);
    assert.equal((await admin("POST", `/admin/keys/${key.id}/disable`)).json().status, "disabled");
    assert.equal((await seedream(secret)).status, 401);
    assert.equal((await admin("POST", `/admin/keys/${key.id}/enable`)).json().status, "active");
    assert.equal((await seedream(secret)).status, 200);
    assert.deepEqual((await admin("DELETE", `/admin/keys/${key.id}`)).json(), { id: key.id, deleted: true });
    assert.equal((await admin("GET", `/admin/keys/${key.id}`)).statusCode, 404);
    assert.equal((await seedream(secret)).json.error.message, "The API key is invalid or has been revoked.");
  });

  test("only admin keys reach /admin; bad settings are a 400 naming the field", async () => {
    const user = await newKey({});
    const refused = await admin("GET", "/admin/keys", undefined, user.secret);
    assert.equal(refused.statusCode, 403);
    assert.deepEqual(refused.json().error, {
      code: "AccessDenied", message: "This endpoint needs an API key with the admin role.", message_cn: "该接口需要具有 admin 角色的 API Key。",
      param: null, type: "permission_error", err_code: -10009,
    });
    const cases: Array<[unknown, string, string]> = [
      [{}, "name", "Missing required parameter `name`."],
      [{ name: "x", rpm_limit: 0 }, "rpm_limit", "Invalid parameter `rpm_limit`: must be at least 1 (requests per minute), or null for no limit (got number 0)."],
      [{ name: "x", expires_at: "tomorrow" }, "expires_at", 'Invalid parameter `expires_at`: must be an ISO 8601 date-time such as 2027-01-01T00:00:00Z, or null (got "tomorrow").'],
      [{ name: "x", allowed_models: ["dall-e-3"] }, "allowed_models.0", 'Invalid parameter `allowed_models.0`: must list models among doubao-seedream-4-5-251128, doubao-seedream-4-0-250828, doubao-seedream-5-0-260128, doubao-seedream-5-0-pro-260628, doubao-seedream-5-0-flash-260915, doubao-seedream-3-0-t2i-250415, doubao-seededit-3-0-i2i-250628, general_v2.1_L, general_v2.0_L, general_v2.0, general_v3.0, i2i_portrait_photo (got "dall-e-3").'],
      [{ name: "x", daily_spend_limit: -1 }, "daily_spend_limit", "Invalid parameter `daily_spend_limit`: must be ≥ 0, or null for no limit (got number -1)."],
      [{ name: "x", color: "red" }, "color", "Invalid parameter `color`: is not a known field."],
    ];
    for (const [body, param, message] of cases) {
      const response = await admin("POST", "/admin/keys", body);
      assert.equal(response.statusCode, 400, JSON.stringify(body));
      assert.equal(response.json().error.param, param);
      assert.equal(response.json().error.message, message);
    }
    assert.equal((await admin("GET", "/admin/keys/no-such-key")).json().error.message, 'No API key has the id, prefix or name "no-such-key".');
  });
});

describe("each limit at its edge", () => {
  test("expiry: usable until the instant it expires, then 401", async () => {
    const key = await newKey({ expires_at: new Date(T0 + 1000).toISOString() });
    now = T0 + 999;
    assert.equal((await seedream(key.secret)).status, 200);
    now = T0 + 1000;
    assert.deepEqual(errorOf(await seedream(key.secret)), {
      status: 401, code: "AuthenticationError", message: "The API key expired at 2026-11-22T10:00:01.000Z.", message_cn: "API Key 已于 2026-11-22T10:00:01.000Z 过期。",
      param: null, type: "authentication_error", err_code: -10002, retryAfter: undefined,
    });
    now = T0;
  });

  test("disabled: 401 that says so", async () => {
    const key = await newKey({});
    await admin("POST", `/admin/keys/${key.id}/disable`);
    assert.equal((await seedream(key.secret)).json.error.message, "The API key has been disabled; ask the gateway's operator to re-enable it.");
  });

  test("allowed models: the listed one passes, another is 403 -10013", async () => {
    const key = await newKey({ allowed_models: [SEEDREAM] });
    assert.equal((await seedream(key.secret)).status, 200);
    const refused = await h.post("/doubao/drawing", { prompt: "x", width: 256, height: 256 }, { authorization: `Bearer ${key.secret}` });
    assert.deepEqual(errorOf(refused), {
      status: 403, code: "ModelNotAllowed", message: `This API key may not use model general_v2.1_L; it may use ${SEEDREAM}.`,
      message_cn: `该 API Key 不能使用模型 general_v2.1_L；可用模型：${SEEDREAM}。`, param: "model", type: "permission_error", err_code: -10013, retryAfter: undefined,
    });
  });

  test("requests per minute: the 3rd passes, the 4th is 429 with Retry-After, a minute later it passes", async () => {
    const key = await newKey({ rpm_limit: 3 });
    for (let index = 0; index < 3; index += 1) {
      now = T0 + index * 10_000;
      assert.equal((await seedream(key.secret)).status, 200);
    }
    now = T0 + 25_000;
    assert.deepEqual(errorOf(await seedream(key.secret)), {
      status: 429, code: "RateLimitExceeded", message: "This API key may make 3 requests per minute; retry in 35 s.", message_cn: "该 API Key 每分钟最多 3 次请求，请 35 秒后重试。",
      param: null, type: "rate_limit_error", err_code: -10012, retryAfter: "35",
    });
    now = T0 + 60_001;
    assert.equal((await seedream(key.secret)).status, 200);
    now = T0;
  });

  test("concurrency 1: a second request while the first runs is 429; after it, one passes", async () => {
    const key = await newKey({ concurrency_limit: 1 });
    const seen = h.gateway.emulator?.stats.byApi.ark ?? 0;
    const first = seedream(key.secret, { prompt: "hold [[fault:slow:300]]" });
    while ((h.gateway.emulator?.stats.byApi.ark ?? 0) === seen) await sleep(5);
    assert.deepEqual(errorOf(await seedream(key.secret)), {
      status: 429, code: "RateLimitExceeded", message: "This API key may run 1 request at a time; retry when one has finished.",
      message_cn: "该 API Key 最多同时运行 1 个请求，请稍后重试。", param: null, type: "rate_limit_error", err_code: -10012, retryAfter: "1",
    });
    assert.equal((await first).status, 200);
    assert.equal((await seedream(key.secret)).status, 200);
  });

  test("total image quota: the last image passes, the next is 429 -10006; a failed request does not use it", async () => {
    const key = await newKey({ total_image_quota: 3 });
    assert.equal((await seedream(key.secret, { n: 2 }, "/v1/images/generations")).json.data.length, 2);
    const refused = await seedream(key.secret, { n: 2 }, "/v1/images/generations");
    assert.deepEqual(errorOf(refused), {
      status: 429, code: "QuotaExceeded",
      message: "This API key's total image quota is 3: 2 used, 0 held by requests in flight, so this request (2 images) does not fit; 1 left.",
      message_cn: "该 API Key 的总图片额度（3）不足以完成本次请求，剩余 1。", param: null, type: "rate_limit_error", err_code: -10006, retryAfter: undefined,
    });
    assert.equal((await seedream(key.secret, { prompt: "x [[fault:ark:OutputImageSensitiveContentDetected]]" })).status, 400);
    assert.equal((await seedream(key.secret)).status, 200);
    assert.equal(errorOf(await seedream(key.secret)).err_code, -10006);
  });

  test("daily image quota resets at 00:00 of USAGE_TIME_ZONE (UTC here): Retry-After counts down to it", async () => {
    const key = await newKey({ daily_image_quota: 1 });
    now = Date.UTC(2026, 10, 22, 23, 59, 0);
    assert.equal((await seedream(key.secret)).status, 200);
    const refused = errorOf(await seedream(key.secret));
    assert.equal(refused.err_code, -10007);
    assert.equal(refused.retryAfter, "60");
    assert.equal(refused.message, "This API key's daily image quota is 1: 1 used, 0 held by requests in flight, so this request (1 image) does not fit; 0 left. It resets at 00:00 UTC.");
    now = Date.UTC(2026, 10, 23, 0, 0, 0);
    assert.equal((await seedream(key.secret)).status, 200);
    now = T0;
  });

  test("spend limits: 0.5 CNY a day buys one Seedream image (0.259), not two; 0.7 in total buys two", async () => {
    const key = await newKey({ daily_spend_limit: 0.5, total_spend_limit: 0.7 });
    assert.equal((await seedream(key.secret)).status, 200);
    const refused = errorOf(await seedream(key.secret));
    assert.equal(refused.err_code, -10007);
    assert.equal(refused.message, "This API key's daily spend limit is 0.5 CNY: 0.259 CNY used, 0 CNY held by requests in flight, so this request (0.259 CNY) does not fit; 0.241 CNY left. It resets at 00:00 UTC.");
    now = T0 + DAY;
    assert.equal((await seedream(key.secret)).status, 200);
    const total = errorOf(await seedream(key.secret));
    assert.equal(total.err_code, -10006);
    assert.equal(total.message, "This API key's total spend limit is 0.7 CNY: 0.518 CNY used, 0 CNY held by requests in flight, so this request (0.259 CNY) does not fit; 0.182 CNY left.");
  });

  test("50 concurrent requests race for the last 5 images: exactly 5 succeed and the ledger says 5", async () => {
    const key = await newKey({ total_image_quota: 5 });
    const generatedBefore = h.gateway.emulator?.stats.imagesGenerated ?? 0;
    const results = await Promise.all(Array.from({ length: 50 }, () => seedream(key.secret)));
    assert.equal(results.filter((result) => result.status === 200).length, 5);
    assert.equal(results.filter((result) => result.status === 429 && result.json.error.err_code === -10006).length, 45);
    const spent = (await h.gateway.accounts.ledger.spent(key.id, h.gateway.accounts.today()));
    assert.equal(spent.totalImages, 5);
    assert.equal((h.gateway.emulator?.stats.imagesGenerated ?? 0) - generatedBefore, 5);
  });
});

describe("revocation takes effect for requests in flight", () => {
  test("a key disabled while its request fetches the input image: the upstream is never called", async () => {
    const key = await newKey({});
    const held = holdNextImage();
    const arkBefore = h.gateway.emulator?.stats.byApi.ark ?? 0;
    const pending = h.post("/doubao/images/generations", { model: "doubao-seededit-3-0-i2i-250628", prompt: "edit", image: `http://images.test:${imagePort}/slow.png`, response_format: "b64_json" }, { authorization: `Bearer ${key.secret}` });
    await held.requested;
    await admin("POST", `/admin/keys/${key.id}/disable`);
    held.release();
    const response = await pending;
    assert.equal(response.status, 401);
    assert.equal(response.json.error.message, "The API key has been disabled; ask the gateway's operator to re-enable it.");
    assert.equal((h.gateway.emulator?.stats.byApi.ark ?? 0) - arkBefore, 0);
    const row = (await h.gateway.accounts.ledger.get(response.headers["x-request-id"] as string));
    assert.deepEqual([row?.state, row?.status, row?.charged, row?.error_code], ["settled", 401, 0, "AuthenticationError"]);
  });

  test("a key deleted between two attempts: the retry never goes out", async () => {
    const key = await newKey({});
    const arkBefore = h.gateway.emulator?.stats.byApi.ark ?? 0;
    const pending = seedream(key.secret, { prompt: "revoke between attempts [[fault:ark:ServerOverloaded*1]]" });
    while ((h.gateway.emulator?.stats.byApi.ark ?? 0) === arkBefore) await sleep(2);
    await admin("DELETE", `/admin/keys/${key.id}`);
    const response = await pending;
    assert.equal(response.status, 401);
    assert.equal((h.gateway.emulator?.stats.byApi.ark ?? 0) - arkBefore, 1);
  });
});

describe("the usage ledger", () => {
  test("one record per request with key, model, provider, endpoint, status, images, tokens, upstream id, latency, cost, charged", async () => {
    const key = await newKey({});
    const drawing = await h.post("/doubao/drawing", { prompt: "ledger", width: 256, height: 256, use_sr: false }, { authorization: `Bearer ${key.secret}` });
    assert.equal(drawing.status, 200);
    const row = (await h.gateway.accounts.ledger.get(drawing.headers["x-request-id"] as string)) as Json;
    assert.deepEqual(
      { ...row, latency_ms: typeof row.latency_ms, created_at: typeof row.created_at, upstream_request_id: typeof row.upstream_request_id },
      {
        id: drawing.headers["x-request-id"], key_id: key.id, key_name: row.key_name, model: "general_v2.1_L", endpoint: "/doubao/drawing", provider: "visual",
        state: "settled", reserved_images: 1, reserved_micros: 200000, reference_images: 0, served_model: "general_v2.1_L", instance_id: `${hostname()}:8302`, held: 0, status: 200, images: 1, output_tokens: 256, upstream_request_id: "string",
        latency_ms: "number", cost_micros: 200000, charged: 1, error_code: null, files: JSON.stringify([drawing.json.data.image_urls[0].split("/files/")[1]]),
        created_at: "number", day: "2026-11-22",
      },
    );
    const retried = await seedream(key.secret, { prompt: "one record [[fault:ark:ServerOverloaded*1]]" });
    assert.equal(retried.status, 200);
    const rows = (await h.gateway.accounts.ledger.report({ since: "2026-11-22", until: "2026-11-22", by: ["model"], keyId: key.id }));
    assert.deepEqual(rows, [
      { model: SEEDREAM, requests: 1, charged_requests: 1, images: 1, output_tokens: 1024, cost_micros: 259000 },
      { model: "general_v2.1_L", requests: 1, charged_requests: 1, images: 1, output_tokens: 256, cost_micros: 200000 },
    ]);
  });

  test("a partial failure charges the images delivered; a refusal is recorded uncharged", async () => {
    const key = await newKey({});
    await fetch(`${h.gateway.emulator?.base}/_emulator/faults`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ fault: "ark:OutputImageSensitiveContentDetected", api: "ark" }) });
    const partial = await seedream(key.secret, { n: 3, prompt: "partial" }, "/v1/images/generations");
    assert.equal(partial.json.data.length, 2);
    assert.equal(partial.json.error.code, "PartialFailure");
    const row = (await h.gateway.accounts.ledger.get(partial.headers["x-request-id"] as string));
    assert.deepEqual([row?.images, row?.charged, row?.cost_micros, row?.error_code], [2, 1, 518000, "PartialFailure"]);
    const refused = await seedream(key.secret, { prompt: "x [[fault:ark:InputTextSensitiveContentDetected]]" });
    const refusedRow = (await h.gateway.accounts.ledger.get(refused.headers["x-request-id"] as string));
    assert.deepEqual([refusedRow?.status, refusedRow?.images, refusedRow?.charged, refusedRow?.cost_micros, refusedRow?.error_code], [400, 0, 0, 0, "InputTextSensitiveContentDetected"]);
  });

  test("reports: /v1/usage shows a key its own usage; /admin/usage groups by key, model and day, as JSON or CSV", async () => {
    const key = await newKey({ name: "reporter" });
    await seedream(key.secret);
    now = T0 + DAY;
    await seedream(key.secret, { n: 2 }, "/v1/images/generations");
    now = T0;
    const own = await h.get("/v1/usage?since=2026-11-22&until=2026-11-23", { authorization: `Bearer ${key.secret}` });
    assert.deepEqual(own.json(), {
      object: "usage", since: "2026-11-22", until: "2026-11-23", group_by: ["model", "day"], currency: "CNY",
      data: [
        { model: SEEDREAM, day: "2026-11-22", requests: 1, charged_requests: 1, images: 1, output_tokens: 1024, cost: 0.259 },
        { model: SEEDREAM, day: "2026-11-23", requests: 1, charged_requests: 1, images: 2, output_tokens: 2048, cost: 0.518 },
      ],
      totals: { requests: 2, charged_requests: 2, images: 3, output_tokens: 3072, cost: 0.777 },
    });
    const csv = await h.get(`/admin/usage?since=2026-11-23&until=2026-11-23&group_by=key,model&key=${key.id}&format=csv`);
    assert.equal(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert.equal(csv.body.toString(), `key_id,key_name,model,requests,charged_requests,images,output_tokens,cost,currency\n${key.id},reporter,${SEEDREAM},1,1,2,2048,0.518,CNY\n`);
    const bad = await h.get("/admin/usage?group_by=week");
    assert.equal(bad.json().error.message, 'Invalid parameter `group_by`: must be a comma-separated list of key, model, day (got "week").');
  });

  test("/admin/requests: the newest requests first, with status, provider, latency and cost; of one key; limit checked", async () => {
    const key = await newKey({ name: "recent" });
    now = T0 + 2 * DAY;
    const made = await seedream(key.secret);
    now += 1000;
    const refused = await seedream(key.secret, { prompt: "x [[fault:ark:InputTextSensitiveContentDetected]]" });
    now = T0;
    const response = await h.get(`/admin/requests?key=${key.id}&limit=5`);
    assert.equal(response.status, 200);
    const body = response.json();
    assert.equal(body.object, "list");
    assert.equal(body.currency, "CNY");
    assert.equal(body.data.length, 2);
    const [second, first] = body.data;
    assert.equal(typeof first.latency_ms, "number");
    assert.deepEqual({ ...first, latency_ms: 0 }, {
      id: made.headers["x-request-id"], created_at: new Date(T0 + 2 * DAY).toISOString(), key_id: key.id, key_name: "recent", model: SEEDREAM, served_model: SEEDREAM,
      endpoint: "/doubao/images/generations", provider: "ark", state: "settled", status: 200, images: 1, latency_ms: 0, cost: 0.259, error_code: null,
    });
    assert.deepEqual([second.id, second.status, second.images, second.cost, second.error_code, second.created_at], [refused.headers["x-request-id"], 400, 0, 0, "InputTextSensitiveContentDetected", new Date(T0 + 2 * DAY + 1000).toISOString()]);
    assert.equal((await h.get("/admin/requests?limit=1")).json().data.length, 1);
    const bad = await h.get("/admin/requests?limit=0");
    assert.equal(bad.status, 400);
    assert.equal(bad.json().error.message, 'Invalid parameter `limit`: must be an integer in [1, 500] (got "0").');
    const user = await h.get("/admin/requests", { authorization: `Bearer ${key.secret}` });
    assert.equal(user.status, 403);
  });

  test("over a mixed run of successes, retries, refusals and upstream failures, the ledger's images equal the emulator's", async () => {
    const key = await newKey({ name: "mixed" });
    const generatedBefore = h.gateway.emulator?.stats.imagesGenerated ?? 0;
    const run = [
      seedream(key.secret, { prompt: "ok one" }),
      seedream(key.secret, { n: 3, prompt: "ok three" }, "/v1/images/generations"),
      seedream(key.secret, { prompt: "retried [[fault:ark:ServerOverloaded*1]]" }),
      seedream(key.secret, { prompt: "refused [[fault:ark:OutputImageSensitiveContentDetected]]" }),
      seedream(key.secret, { prompt: "down [[fault:http:503]]" }),
      seedream(key.secret, { prompt: "account [[fault:ark:AccountOverdueError]]" }),
      h.post("/doubao/drawing", { prompt: "draw ok", width: 256, height: 256 }, { authorization: `Bearer ${key.secret}` }),
      h.post("/doubao/drawing", { prompt: "draw refused [[fault:visual:50412]]", width: 256, height: 256 }, { authorization: `Bearer ${key.secret}` }),
      h.post("/doubao/drawing", { prompt: "draw throttled [[fault:visual:50429*2]]", width: 256, height: 256 }, { authorization: `Bearer ${key.secret}` }),
    ];
    const statuses = (await Promise.all(run)).map((response) => response.status);
    // The account failure falls back to the (emulated) relay, which the same marker fails too.
    assert.deepEqual(statuses, [200, 200, 200, 400, 502, 502, 200, 400, 200]);
    const generated = (h.gateway.emulator?.stats.imagesGenerated ?? 0) - generatedBefore;
    const ledger = (await h.gateway.accounts.ledger.report({ since: "2026-11-22", until: "2026-11-22", by: [], keyId: key.id }))[0];
    assert.equal(ledger?.requests, 9);
    assert.equal(ledger?.charged_requests, 5);
    assert.equal(ledger?.images, generated);
    assert.equal(generated, 7);
  });
});

test("USAGE_TIME_ZONE=Asia/Shanghai: the daily quota resets at 16:00 UTC, and usage days are Shanghai days", async () => {
  let clock = Date.UTC(2026, 10, 22, 15, 59, 0);
  const shanghai = await startHarness({ USAGE_TIME_ZONE: "Asia/Shanghai" }, { now: () => clock });
  try {
    const created = await shanghai.post("/admin/keys", { name: "cn", daily_image_quota: 1 });
    const secret = created.json.secret as string;
    const call = () => shanghai.post("/doubao/images/generations", { model: SEEDREAM, prompt: "tz", size: "512x512", response_format: "b64_json" }, { authorization: `Bearer ${secret}` });
    assert.equal((await call()).status, 200);
    const refused = await call();
    assert.equal(refused.status, 429);
    assert.equal(refused.headers["retry-after"], "60");
    assert.match(refused.json.error.message, /It resets at 00:00 Asia\/Shanghai\.$/);
    clock = Date.UTC(2026, 10, 22, 16, 0, 0);
    const next = await call();
    assert.equal(next.status, 200);
    assert.equal((await shanghai.gateway.accounts.ledger.get(next.headers["x-request-id"] as string))?.day, "2026-11-23");
  } finally {
    await shanghai.close();
  }
});

// The first-hour snags of issue 10, each as a client or operator met it.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { arkError, registerSecrets } from "./providers/upstream-error.js";
import { dataUrl, startHarness, testImage, TEST_KEY, type Harness } from "./testing/harness.js";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

const admin = (method: "GET" | "POST" | "PATCH" | "DELETE", url: string, body?: unknown, headers: Record<string, string> = {}) =>
  h.gateway.app.inject({
    method, url, headers: { authorization: `Bearer ${TEST_KEY}`, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });

test("a key is found by the prefix `keys list` shows (its _ is escaped for LIKE, not dropped)", async () => {
  const created = (await admin("POST", "/admin/keys", { name: "prefix-user" })).json();
  const prefix = created.key.prefix as string;
  assert.match(prefix, /^dg_/);
  const found = await admin("GET", `/admin/keys/${prefix}`);
  assert.equal(found.statusCode, 200);
  assert.equal(found.json().id, created.key.id);
  // A LIKE wildcard in a reference is a character, not "anything".
  const wildcard = await admin("GET", "/admin/keys/dg%25_");
  assert.equal(wildcard.statusCode, 404);
  assert.equal(wildcard.json().error.err_code, -10010);
});

test("key names are unique; an ambiguous reference lists the candidates", async () => {
  assert.equal((await admin("POST", "/admin/keys", { name: "team-a" })).statusCode, 201);
  const again = await admin("POST", "/admin/keys", { name: "team-a" });
  assert.equal(again.statusCode, 409);
  assert.match(again.json().error.message, /^Another API key is named "team-a" \(id [0-9a-f-]{36}\); key names are unique\. Choose another name\.$/);
  const other = (await admin("POST", "/admin/keys", { name: "team-b" })).json();
  assert.equal((await admin("PATCH", `/admin/keys/${other.key.id}`, { name: "team-a" })).statusCode, 409);
  // A database from before names were unique may hold two keys of one name: the reference lists both.
  const first = (await h.gateway.keys.create({ name: "twin" })).record;
  const second = (await h.gateway.keys.create({ name: "twin" })).record;
  const ambiguous = await admin("GET", "/admin/keys/twin");
  assert.equal(ambiguous.statusCode, 409);
  assert.equal(
    ambiguous.json().error.message,
    `"twin" matches 2 API keys: ${first.id} (twin, ${first.prefix}…); ${second.id} (twin, ${second.prefix}…). Use one of their ids.`,
  );
});

test("DELETE and POST …/disable with Content-Type: application/json and no body work", async () => {
  const created = (await admin("POST", "/admin/keys", { name: "empty-body" })).json();
  const headers = { "content-type": "application/json" };
  const disabled = await admin("POST", `/admin/keys/${created.key.id}/disable`, undefined, headers);
  assert.equal(disabled.statusCode, 200);
  assert.equal(disabled.json().status, "disabled");
  const deleted = await admin("DELETE", `/admin/keys/${created.key.id}`, undefined, headers);
  assert.deepEqual(deleted.json(), { id: created.key.id, deleted: true });
});

test("a prompt is counted in characters: 2,001 emoji pass the 4,000-character limit, 4,001 do not", async () => {
  const body = (prompt: string) => ({ model: "doubao-seedream-4-0-250828", prompt: `${prompt}[[fault:ark:InvalidParameter]]`, size: "1280x720" });
  const fits = await h.post("/doubao/images/generations", body("🐱".repeat(2001)));
  assert.notEqual(fits.json.error.param, "prompt");
  const over = await h.post("/doubao/images/generations", body("猫".repeat(4001)));
  assert.equal(over.status, 400);
  assert.equal(over.json.error.message, 'Invalid parameter `prompt`: must be at most 4000 characters (got "猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫猫…").');
});

test("a request refused for its input image is not recorded and uses no rate or concurrency slot", async () => {
  const { secret } = (await h.gateway.keys.create({ name: "strict-image", rpm: 1, concurrency: 1 }));
  const auth = { authorization: `Bearer ${secret}` };
  const broken = `data:image/png;base64,${(await testImage(64, 64, "png")).subarray(0, 100).toString("base64")}`;
  for (const [url, body] of [
    ["/doubao/drawing/portrait", { image_input: broken }],
    ["/doubao/images/generations", { model: "doubao-seededit-3-0-i2i-250628", prompt: "x", image: broken }],
    ["/doubao/images/generations", { model: "doubao-seedream-4-0-250828", prompt: "x", image: [broken] }],
  ] as const) {
    const refused = await h.post(url, body, auth);
    assert.equal(refused.status, 400, url);
    assert.equal((await h.gateway.accounts.ledger.get(refused.json.request_id)), undefined, `${url}: not recorded`);
  }
  // The one request a minute is still there.
  const ok = await h.post("/doubao/drawing/portrait", { image_input: dataUrl(await testImage(600, 800)), width: 512, height: 512 }, auth);
  assert.equal(ok.status, 200);
});

test("usage refuses a day that does not exist", async () => {
  const response = await h.get("/v1/usage?since=2026-13-45");
  assert.equal(response.status, 400);
  assert.equal(response.json().error.message, 'Invalid parameter `since`: must be a day that exists, YYYY-MM-DD (got "2026-13-45").');
});

test("/v1/models lists only the models a key may use; a 403 on /doubao/drawing carries Volcengine's 50400", async () => {
  const { secret } = (await h.gateway.keys.create({ name: "only-drawing", allowedModels: ["general_v2.1_L"] }));
  const models = await h.get("/v1/models", { authorization: `Bearer ${secret}` });
  assert.deepEqual(models.json().data.map((model: { id: string }) => model.id), ["general_v2.1_L"]);
  const refused = await h.post("/doubao/drawing", { prompt: "x", model_version: "general_v2.0" }, { authorization: `Bearer ${secret}` });
  assert.equal(refused.status, 403);
  assert.deepEqual([refused.json.code, refused.json.status, refused.json.error.err_code], [50400, 50400, -10013]);
});

test("/ready says whether requests can be served; it needs no key", async () => {
  const response = await h.get("/ready", {});
  assert.equal(response.status, 200);
  assert.deepEqual(response.json(), {
    ready: true,
    providers: [
      { id: "ark", label: "emulator", breaker: "closed", usable: true },
      { id: "visual", label: "emulator", breaker: "closed", usable: true },
      { id: "302ai", label: "emulator-302ai", breaker: "closed", usable: true },
    ],
    dependencies: { database: "ok", storage: "ok" },
  });
});

test("a __proto__ key in a JSON body is valid JSON: it is ignored, not called malformed", async () => {
  const response = await h.post("/v1/images/generations", '{"model":"doubao-seedream-4-0-250828","prompt":"x","size":"1280x720","__proto__":{"admin":true},"response_format":"b64_json"}');
  assert.equal(response.status, 200);
  assert.equal(({} as Record<string, unknown>).admin, undefined);
});

test("OpenAI clients: optional fields sent as null, and size auto, are accepted on /v1", async () => {
  const response = await h.post("/v1/images/generations", {
    model: "doubao-seedream-4-0-250828", prompt: "x [[fault:ark:InvalidParameter]]", size: "auto", n: null, response_format: null, quality: null, style: null, user: null,
  });
  assert.match(response.json.error.message, /^The upstream \(Ark\) rejected the request/);
  const seedream3 = await h.post("/v1/images/generations", { model: "doubao-seedream-3-0-t2i-250415", prompt: "x", size: "auto", seed: null, response_format: "b64_json" });
  assert.equal(seedream3.status, 200);
  assert.equal(seedream3.json.usage.output_tokens, 4096);
});

test("err_code: 302's numbers for not found (-10010) and a wrong method (-10009)", async () => {
  assert.equal((await h.get("/v1/nothing")).json().error.err_code, -10010);
  assert.equal((await h.get("/async_result?task_id=nope")).json().error.err_code, -10010);
  const method = await h.gateway.app.inject({ method: "PUT", url: "/v1/models", headers: { authorization: `Bearer ${TEST_KEY}` } });
  assert.equal(method.json().error.err_code, -10009);
});

test("an upstream message that repeats a configured secret has it removed, whatever its shape", () => {
  registerSecrets(["plain words secret 42"]);
  const error = arkError(500, { error: { code: "InternalServiceError", message: "key plain words secret 42 was rejected" } }, 3);
  assert.equal(error.message, "The upstream (Ark) failed (InternalServiceError: key <redacted> was rejected).");
  assert.equal(error.upstreamRetryAfter, 3, "a 5xx's Retry-After is kept for the next attempt's delay");
});

test("/files answers Range requests and revalidations (ETag, 304)", async () => {
  const generated = await h.post("/doubao/images/generations", { model: "doubao-seedream-4-0-250828", prompt: "x", size: "1280x720" });
  const path = (generated.json.data[0].url as string).replace("http://gateway.test", "");
  const whole = await h.get(path, {});
  const part = await h.get(path, { range: "bytes=0-99" });
  assert.equal(part.status, 206);
  assert.equal(part.headers["content-range"], `bytes 0-99/${whole.body.length}`);
  assert.deepEqual(part.body, whole.body.subarray(0, 100));
  const tail = await h.get(path, { range: "bytes=-10" });
  assert.deepEqual(tail.body, whole.body.subarray(whole.body.length - 10));
  assert.equal((await h.get(path, { range: `bytes=${whole.body.length}-` })).status, 416);
  assert.equal(whole.headers["accept-ranges"], "bytes");
  // A result never changes: its name is its ETag, and a revalidation is a 304 with no body.
  const name = path.split("/").pop() as string;
  assert.equal(whole.headers.etag, `"${name}"`);
  const revalidated = await h.get(path, { "if-none-match": `"${name}"` });
  assert.deepEqual([revalidated.status, revalidated.body.length, revalidated.headers.etag], [304, 0, `"${name}"`]);
  assert.equal((await h.get(path, { "if-none-match": '"other"' })).status, 200);
});

test("openapi.json has the 202/403/415/429 answers, the usage queries, /v1/async_result and the answers' schemas", async () => {
  const document = (await h.get("/openapi.json", {})).json();
  const generation = document.paths["/doubao/images/generations"].post.responses;
  for (const status of ["202", "403", "415", "429"]) assert.ok(generation[status], status);
  assert.deepEqual(document.paths["/admin/usage"].get.parameters.map((parameter: { name: string }) => parameter.name), ["since", "until", "group_by", "key", "format"]);
  assert.ok(document.paths["/v1/async_result"].get);
  for (const name of ["Model", "ModelList", "UsageReport", "TaskResult", "TaskSubmitted", "Key", "KeyCreated"]) assert.ok(document.components.schemas[name], name);
});

test("message_cn is Chinese throughout: the rule translated, the value kept", async () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ model: "doubao-seedream-3-0-t2i-250415", prompt: "x", size: "100x100" }, '参数 `size` 无效：必须是 "<宽>x<高>"，每边为 [512, 2048] 内的整数，例如 "1024x1024"（收到 "100x100"）。'],
    [{ model: "doubao-seedream-3-0-t2i-250415", prompt: "x", watermark: "yes" }, '参数 `watermark` 无效：必须是布尔值（true 或 false）（收到 "yes"）。'],
    [{ model: "doubao-seedream-4-5-251128", prompt: "x", size: "1919x1920" }, '参数 `size` 无效：doubao-seedream-4-5-251128 支持 "2K", "4K" 之一，或 "<宽>x<高>"，总像素在 [3686400, 16777216] 内、宽高比在 [1/16, 16] 内（收到 "1919x1920": 3684480 像素，宽高比 0.999）。'],
    [{ model: "doubao-seedream-5-0-pro-260628", prompt: "x", stream: true }, "参数 `stream` 无效：doubao-seedream-5-0-pro-260628 支持 仅 false（不支持流式输出）（收到 true）。"],
  ];
  for (const [body, messageCn] of cases) {
    const response = await h.post("/doubao/images/generations", body);
    assert.equal(response.json.error.message_cn, messageCn);
  }
});

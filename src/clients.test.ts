// The clients users already run, unchanged, against the gateway and against the emulator on loopback (issue 21):
// Volcengine's Python SDK replayed from its source (testing/python-ark.ts), and @ai-sdk/bytedance itself through `ai`.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { createByteDance } from "@ai-sdk/bytedance";
import { APICallError, generateImage } from "ai";
import { createEmulator, type Emulator } from "./emulator/server.js";
import { ArkSdkError, pythonArk, sdkBody, type SdkParams } from "./testing/python-ark.js";
import { dataUrl, startHarness, testImage, TEST_KEY, type Harness, type Json } from "./testing/harness.js";

const EMULATOR_KEY = "ark-key-for-the-clients-test-0001";
/** Every live Seedream model by its Volcengine id, with the smallest size it takes (the emulator renders each image). */
const LIVE: Array<{ id: string; byteplus: string; size: string; stream: boolean }> = [
  { id: "doubao-seedream-4-0-250828", byteplus: "seedream-4-0-250828", size: "1K", stream: true },
  { id: "doubao-seedream-4-5-251128", byteplus: "seedream-4-5-251128", size: "2K", stream: true },
  { id: "doubao-seedream-5-0-260128", byteplus: "seedream-5-0-260128", size: "2K", stream: true },
  { id: "doubao-seedream-5-0-lite-260128", byteplus: "seedream-5-0-lite-260128", size: "2K", stream: true },
  { id: "doubao-seedream-5-0-pro-260628", byteplus: "dola-seedream-5-0-pro-260628", size: "1K", stream: false },
  { id: "doubao-seedream-5-0-flash-260915", byteplus: "dola-seedream-5-0-flash-260915", size: "1K", stream: false },
];

let h: Harness;
let gateway = "";
let emulator: Emulator;
let upstream = "";
before(async () => {
  h = await startHarness();
  const address = await h.gateway.app.listen({ port: 0, host: "127.0.0.1" });
  gateway = address.replace("localhost", "127.0.0.1");
  emulator = createEmulator({ arkApiKey: EMULATOR_KEY, accessKeyId: "AKUNUSEDFORTHISTEST", secretAccessKey: "unused-secret-for-this-test" });
  upstream = await emulator.listen(0, "127.0.0.1");
});
after(async () => {
  await h.close();
  await emulator.close();
});

const arkCalls = () => h.gateway.emulator?.stats.byApi.ark ?? 0;
const admin = async (method: string, url: string, body?: unknown) =>
  h.gateway.app.inject({ method: method as "GET", url, headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" }, ...(body ? { payload: JSON.stringify(body) } : {}) });
/** The newest ledger rows of the test key. */
const recent = async (limit: number): Promise<Json[]> => (await admin("GET", `/admin/requests?limit=${limit}`)).json().data;

describe("Volcengine's Python SDK (volcenginesdkarkruntime 5.0.42, arkruntime 0.4.0), its exact bodies replayed", () => {
  test("the body is the SDK's: all 14 fields, each unset one null, options as pydantic dumps", () => {
    const body = sdkBody({ model: "doubao-seedream-4-5-251128", prompt: "cat", response_format: "url", size: "2K", watermark: false });
    assert.equal(JSON.stringify(body),
      '{"model":"doubao-seedream-4-5-251128","prompt":"cat","image":null,"response_format":"url","size":"2K","seed":null,"guidance_scale":null,"watermark":false,' +
      '"optimize_prompt":null,"optimize_prompt_options":null,"sequential_image_generation":null,"sequential_image_generation_options":null,"tools":null,"output_format":null}');
    assert.deepEqual(sdkBody({ model: "m", prompt: "p", optimize_prompt_options: { mode: "standard" } }, { stream: true, sdk: "arkruntime" }).optimize_prompt_options, { mode: "standard", thinking: null });
  });

  const targets = [
    { name: "gateway, Ark's base URL /api/v3", base: () => `${gateway}/api/v3`, key: () => TEST_KEY },
    { name: "gateway, 302.AI's base URL /doubao", base: () => `${gateway}/doubao`, key: () => TEST_KEY },
    { name: "the emulator, as Ark", base: () => `${upstream}/api/v3`, key: () => EMULATOR_KEY },
  ];
  for (const target of targets) {
    for (const model of LIVE) {
      test(`${target.name}: ${model.id}, plain and streamed, both SDKs`, async () => {
        const client = pythonArk({ baseUrl: target.base(), apiKey: target.key(), maxRetries: 0 });
        const params: SdkParams = { model: model.id, prompt: "a cat on a windowsill", response_format: "url", size: model.size, watermark: false };
        for (const sdk of ["volcenginesdkarkruntime", "arkruntime"] as const) {
          const answer = await client.images.generate(params, { sdk }) as Json;
          assert.equal(answer.data.length, 1, JSON.stringify(answer));
          assert.match(answer.data[0].url, /^http/);
          assert.equal(answer.usage.generated_images, 1);
        }
        if (model.stream) {
          const events = await client.images.stream(params) as Json[];
          assert.deepEqual(events.map((event) => event.type), ["image_generation.partial_succeeded", "image_generation.completed"]);
          assert.equal(events[1].usage.generated_images, 1);
        } else {
          // A model that does not stream: the SDK raises ArkBadRequestError naming the field, and does not retry.
          const refused = await client.images.stream(params).then(() => undefined, (error: unknown) => error as ArkSdkError);
          assert.ok(refused instanceof ArkSdkError);
          assert.equal(refused.name, "ArkBadRequestError");
          assert.equal((refused.body as Json).param, "stream");
          assert.equal(client.attempts.at(-1)?.headers.get("x-should-retry"), target.key() === TEST_KEY ? "false" : null);
        }
      });
    }
  }

  test("nested nulls, 5.0 Pro's thinking, and fields a model does not take are absent when null (tools: null on 4.5)", async () => {
    const client = pythonArk({ baseUrl: `${gateway}/api/v3`, apiKey: TEST_KEY, maxRetries: 0 });
    const pro = await client.images.generate({ model: "doubao-seedream-5-0-pro-260628", prompt: "x", size: "1K", optimize_prompt_options: { thinking: "disabled" } }) as Json;
    assert.equal(pro.data.length, 1);
    const group = await client.images.generate({ model: "doubao-seedream-4-5-251128", prompt: "two moods [[images:2]]", sequential_image_generation: "auto", sequential_image_generation_options: {} }) as Json;
    assert.equal(group.data.length, 2);
    const refused = await client.images.generate({ model: "doubao-seedream-4-5-251128", prompt: "x", optimize_prompt_options: { thinking: "enabled" } }).catch((error: unknown) => error as ArkSdkError);
    assert.ok(refused instanceof ArkSdkError);
    assert.equal((refused.body as Json).message, 'Invalid parameter `optimize_prompt_options.thinking`: doubao-seedream-4-5-251128 accepts no optimize_prompt_options.thinking (got "enabled").');
    const withImage = await client.images.generate({ model: "dola-seedream-5-0-pro-260628", prompt: "x", image: dataUrl(await testImage(64, 64)), optimize_prompt_options: { thinking: "disabled" } }).catch((error: unknown) => error as ArkSdkError);
    assert.ok(withImage instanceof ArkSdkError);
    assert.equal((withImage.body as Json).message, 'Invalid parameter `optimize_prompt_options.thinking`: doubao-seedream-5-0-pro-260628 accepts "disabled" only without reference images (got "disabled" with 1 reference image).');
  });

  test("a streamed group with one refused image: Ark's events by default end the SDK's iteration; with the opt-in it gets every image", async () => {
    const client = pythonArk({ baseUrl: `${gateway}/api/v3`, apiKey: TEST_KEY, maxRetries: 0 });
    const params: SdkParams = { model: "doubao-seedream-4-0-250828", prompt: "three moods [[images:3]] [[refuse-image:2]]", size: "1K", sequential_image_generation: "auto", sequential_image_generation_options: { max_images: 3 } };
    const raised = await client.images.stream(params).catch((error: unknown) => error as ArkSdkError);
    assert.ok(raised instanceof ArkSdkError, "Ark's partial_failed event raises in the SDK");
    assert.equal((raised.body as Json).code, "OutputImageSensitiveContentDetected");
    const events = await client.images.stream(params, { extraHeaders: { "X-Gateway-Failed-Images": "omit" } }) as Json[];
    assert.deepEqual(events.map((event) => [event.type, event.image_index]), [
      ["image_generation.partial_succeeded", 0], ["image_generation.partial_succeeded", 2], ["image_generation.completed", undefined],
    ]);
    assert.deepEqual(events[2].failed, [{ image_index: 1, code: "OutputImageSensitiveContentDetected", message: "The request failed because the output image may contain sensitive information." }]);
    const [row] = await recent(1);
    assert.deepEqual([row.images, row.error_code], [2, "PartialFailure"]);
  });

  test("answer headers tell the SDK when a retry cannot help, and when to wait", async () => {
    const client = pythonArk({ baseUrl: `${gateway}/api/v3`, apiKey: TEST_KEY });
    const before = client.attempts.length;
    await assert.rejects(client.images.generate({ model: "doubao-seedream-4-5-251128", prompt: "x", size: "1K" }), { name: "ArkBadRequestError" });
    assert.equal(client.attempts.length - before, 1, "a 400 is not retried");
    assert.equal(client.attempts.at(-1)?.headers.get("x-should-retry"), "false");
    const wrongKey = pythonArk({ baseUrl: `${gateway}/api/v3`, apiKey: "dg_not_a_key_0000000000000000000000000" });
    await assert.rejects(wrongKey.images.generate({ model: "seedream-4-5-251128", prompt: "x" }), { name: "ArkAuthenticationError" });
    assert.deepEqual(wrongKey.attempts.map((attempt) => [attempt.status, attempt.headers.get("x-should-retry")]), [[401, "false"]]);
    // A per-minute limit: 429 with the wait, in seconds and milliseconds, and `true`.
    const created = (await admin("POST", "/admin/keys", { name: "rpm-one", rpm_limit: 1 })).json();
    const limited = pythonArk({ baseUrl: `${gateway}/api/v3`, apiKey: created.secret, maxRetries: 0 });
    await limited.images.generate({ model: "doubao-seedream-4-0-250828", prompt: "x", size: "1K" });
    await assert.rejects(limited.images.generate({ model: "doubao-seedream-4-0-250828", prompt: "x", size: "1K" }), { name: "ArkRateLimitError" });
    const headers = limited.attempts.at(-1)?.headers as Headers;
    assert.equal(headers.get("x-should-retry"), "true");
    assert.equal(Number(headers.get("retry-after-ms")), Number(headers.get("retry-after")) * 1000);
    // A used-up total quota will not pass with time: `false`.
    const quota = (await admin("POST", "/admin/keys", { name: "quota-one", total_image_quota: 1 })).json();
    const spent = pythonArk({ baseUrl: `${gateway}/api/v3`, apiKey: quota.secret });
    await spent.images.generate({ model: "doubao-seedream-4-0-250828", prompt: "x", size: "1K" });
    await assert.rejects(spent.images.generate({ model: "doubao-seedream-4-0-250828", prompt: "x", size: "1K" }), { name: "ArkRateLimitError" });
    assert.deepEqual(spent.attempts.map((attempt) => [attempt.status, attempt.headers.get("x-should-retry")]), [[200, null], [429, "false"]]);
  });

  test("an id shaped as the SDK makes its own (14 digits of time, 20 letters and digits) is not kept: it never repeats", async () => {
    const send = (id: string) => fetch(`${gateway}/api/v3/images/generations`, {
      method: "POST", headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json", "x-client-request-id": id },
      body: JSON.stringify(sdkBody({ model: "doubao-seedream-4-0-250828", prompt: "an id's shape", size: "1K" })),
    });
    const calls = arkCalls();
    const sdkShaped = "20261207153000aB3dE5fG7hJ9kL1mN2pQ";
    for (const id of [sdkShaped, sdkShaped]) assert.equal((await send(id)).headers.get("idempotent-replayed"), null);
    assert.equal(arkCalls() - calls, 2);
    const own = "20261207153000aB3dE5fG7hJ9kL1mN2pQ-retry";
    assert.equal((await send(own)).headers.get("idempotent-replayed"), null);
    assert.equal((await send(own)).headers.get("idempotent-replayed"), "true");
    assert.equal(arkCalls() - calls, 3);
  });

  test("the SDK's retry after a 502 that followed a charge: a stable X-Client-Request-Id gets the kept answer, not a second image", async () => {
    // A proxy in front of the gateway (a load balancer timing out) turns the first answer into a 502 after the gateway charged.
    let cut = 1;
    const proxy = createServer((incoming, outgoing) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("end", () => {
        const headers = Object.fromEntries(Object.entries(incoming.headers).filter(([name]) => !["host", "content-length", "connection"].includes(name))) as Record<string, string>;
        void fetch(`${gateway}${incoming.url}`, { method: "POST", headers, body: Buffer.concat(chunks) }).then(async (answer) => {
          const body = Buffer.from(await answer.arrayBuffer());
          if (cut > 0) {
            cut -= 1;
            outgoing.writeHead(502, { "content-type": "text/html" }).end("<html>502 Bad Gateway</html>");
            return;
          }
          outgoing.writeHead(answer.status, Object.fromEntries([...answer.headers].filter(([name]) => !["content-length", "transfer-encoding", "connection", "content-encoding"].includes(name)))).end(body);
        });
      });
    });
    await new Promise<void>((done) => proxy.listen(0, "127.0.0.1", done));
    const base = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/api/v3`;
    try {
      const params: SdkParams = { model: "doubao-seedream-4-0-250828", prompt: "a retried lighthouse", size: "1K" };
      // The SDK's own id is new on every attempt (default_headers() runs per _build_request): each attempt is a new call.
      const plain = pythonArk({ baseUrl: base, apiKey: TEST_KEY });
      let calls = arkCalls();
      let seen = new Set((await recent(500)).map((row) => row.id));
      const charged = async () => (await recent(500)).filter((row) => !seen.has(row.id)).map((row) => [row.endpoint, row.status, row.images]);
      await plain.images.generate(params);
      assert.deepEqual(plain.attempts.map((attempt) => attempt.status), [502, 200]);
      assert.notEqual(plain.attempts[0]?.clientRequestId, plain.attempts[1]?.clientRequestId);
      assert.equal(arkCalls() - calls, 2, "without a stable id the retry is a second generation");
      assert.deepEqual(await charged(), [["/api/v3/images/generations", 200, 1], ["/api/v3/images/generations", 200, 1]]);
      // With extra_headers={"X-Client-Request-Id": …} the id is the same on every attempt: the retry is answered from the kept answer.
      cut = 1;
      calls = arkCalls();
      seen = new Set((await recent(500)).map((row) => row.id));
      const stable = pythonArk({ baseUrl: base, apiKey: TEST_KEY });
      const answer = await stable.images.generate(params, { extraHeaders: { "X-Client-Request-Id": "job-7-image-1" } }) as Json;
      assert.deepEqual(stable.attempts.map((attempt) => [attempt.status, attempt.clientRequestId, attempt.headers.get("idempotent-replayed")]), [[502, "job-7-image-1", null], [200, "job-7-image-1", "true"]]);
      assert.equal(arkCalls() - calls, 1, "one upstream call");
      assert.equal(answer.data.length, 1);
      assert.deepEqual(await charged(), [["/api/v3/images/generations", 200, 1]], "one charge for the call and its retry");
    } finally {
      await new Promise((done) => proxy.close(done));
    }
  });
});

describe("@ai-sdk/bytedance 1.0.29 through ai 6's generateImage", () => {
  const byteDance = (baseURL: string, apiKey = TEST_KEY, headers?: Record<string, string>) => createByteDance({ baseURL, apiKey, ...(headers ? { headers } : {}) });
  const isJpeg = (bytes: Uint8Array) => bytes[0] === 0xff && bytes[1] === 0xd8;
  const isPng = (bytes: Uint8Array) => bytes[0] === 0x89 && bytes[1] === 0x50;

  for (const [name, base, key] of [["gateway /api/v3", () => `${gateway}/api/v3`, () => TEST_KEY], ["emulator /api/v3", () => `${upstream}/api/v3`, () => EMULATOR_KEY]] as const) {
    test(`${name}: every live model by its BytePlus name, and by its Volcengine id`, async () => {
      for (const model of LIVE) {
        for (const id of [model.byteplus, model.id]) {
          const { images } = await generateImage({ model: byteDance(base(), key()).image(id), prompt: "a lighthouse", providerOptions: { bytedance: { size: model.size, watermark: false } }, maxRetries: 0 });
          assert.equal(images.length, 1, id);
          assert.ok(isJpeg(images[0]?.uint8Array as Uint8Array), id);
        }
      }
    });
  }

  test("one image, n = 2 (two calls), a group, two reference images, 5.0 PNG", async () => {
    const provider = byteDance(`${gateway}/api/v3`);
    const one = await generateImage({ model: provider.image("seedream-4-5-251128"), prompt: "a lighthouse", size: "2048x2048" });
    assert.equal(one.images.length, 1);
    assert.equal(one.images[0]?.mediaType, "image/jpeg");
    const calls = arkCalls();
    const two = await generateImage({ model: provider.image("seedream-4-0-250828"), prompt: "a lighthouse", n: 2, providerOptions: { bytedance: { size: "1K" } } });
    assert.equal(two.images.length, 2);
    assert.equal(arkCalls() - calls, 2);
    const group = await generateImage({
      model: provider.image("seedream-4-0-250828"), prompt: "three moods [[images:3]]", providerOptions: { bytedance: { size: "1K", sequentialImageGeneration: "auto", maxImages: 3 } },
    });
    assert.equal(group.images.length, 3);
    const references = [await testImage(96, 64), await testImage(64, 96, "png")];
    const edited = await generateImage({ model: provider.image("seedream-4-0-250828"), prompt: { text: "the two together", images: references }, providerOptions: { bytedance: { size: "1K" } } });
    assert.equal(edited.images.length, 1);
    const [row] = await recent(1);
    assert.equal(row.endpoint, "/api/v3/images/generations");
    const png = await generateImage({ model: provider.image("seedream-5-0-260128"), prompt: "a lighthouse", providerOptions: { bytedance: { size: "2K", outputFormat: "png" } } });
    assert.ok(isPng(png.images[0]?.uint8Array as Uint8Array));
  });

  test("a refused size and a wrong key reach the client's error, with the gateway's message, and are not retried", async () => {
    const calls = arkCalls();
    const sized = await generateImage({ model: byteDance(`${gateway}/api/v3`).image("seedream-4-5-251128"), prompt: "x", size: "1024x1024" }).catch((error: unknown) => error);
    assert.ok(APICallError.isInstance(sized));
    assert.equal(sized.statusCode, 400);
    assert.equal(sized.message, 'Invalid parameter `size`: doubao-seedream-4-5-251128 accepts one of "2K", "4K", or "<W>x<H>" with W×H in [3686400, 16777216] pixels and W/H in [1/16, 16] (got "1024x1024": 1048576 pixels, W/H 1.000).');
    const wrong = await generateImage({ model: byteDance(`${gateway}/api/v3`, "dg_wrong_key_000000000000000000000000000").image("seedream-4-5-251128"), prompt: "x" }).catch((error: unknown) => error);
    assert.ok(APICallError.isInstance(wrong));
    assert.equal(wrong.statusCode, 401);
    assert.equal(wrong.message, "The API key is invalid or has been revoked.");
    assert.equal(arkCalls(), calls);
  });

  test("a group with one moderated image: Ark's answer fails the whole call; the opt-in header, or the key's default, returns the images made", async () => {
    const group = { prompt: "three moods [[images:3]] [[refuse-image:2]]", providerOptions: { bytedance: { size: "1K", sequentialImageGeneration: "auto", maxImages: 3 } } };
    const inline = await generateImage({ model: byteDance(`${gateway}/api/v3`).image("seedream-4-0-250828"), ...group, maxRetries: 0 }).catch((error: unknown) => error as Error);
    assert.ok(inline instanceof Error);
    assert.match(inline.message, /Invalid JSON response/);
    const omitted = await generateImage({ model: byteDance(`${gateway}/api/v3`, TEST_KEY, { "X-Gateway-Failed-Images": "omit" }).image("seedream-4-0-250828"), ...group });
    assert.equal(omitted.images.length, 2);
    let [row] = await recent(1);
    assert.deepEqual([row.images, row.error_code], [2, "PartialFailure"]);
    // The key's default, set by the admin API: the client sends nothing extra.
    const created = (await admin("POST", "/admin/keys", { name: "ai-sdk-team", failed_images: "omit" })).json();
    assert.equal(created.key.failed_images, "omit");
    const byKey = await generateImage({ model: byteDance(`${gateway}/api/v3`, created.secret).image("seedream-4-0-250828"), ...group });
    assert.equal(byKey.images.length, 2);
    [row] = await recent(1);
    assert.equal(row.images, 2);
    // The answer itself: only images in data, the failure beside it.
    const raw = await fetch(`${gateway}/api/v3/images/generations`, {
      method: "POST", headers: { authorization: `Bearer ${created.secret}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "seedream-4-0-250828", prompt: group.prompt, size: "1K", sequential_image_generation: "auto", sequential_image_generation_options: { max_images: 3 }, response_format: "b64_json" }),
    });
    const body = await raw.json() as Json;
    assert.deepEqual(body.data.map((item: Json) => Object.keys(item)), [["b64_json", "size"], ["b64_json", "size"]]);
    assert.deepEqual(body.failed, [{ image_index: 1, code: "OutputImageSensitiveContentDetected", message: "The request failed because the output image may contain sensitive information." }]);
    const bad = await fetch(`${gateway}/api/v3/images/generations`, {
      method: "POST", headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json", "x-gateway-failed-images": "drop" }, body: JSON.stringify({ model: "seedream-4-0-250828", prompt: "x" }),
    });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as Json).error.message, 'Invalid parameter `X-Gateway-Failed-Images`: must be "inline" (a failed image is an error item at its place, as Ark answers) or "omit" (failed images are left out of data and listed in failed) (got "drop").');
  });
});

describe("OpenAI's names and a body over the limit", () => {
  test("/v1/images/generations without model is served by the default model (4.5)", async () => {
    const response = await h.post("/v1/images/generations", { prompt: "a lighthouse", response_format: "b64_json" });
    assert.equal(response.status, 200, JSON.stringify(response.json));
    assert.equal(response.json.model, "doubao-seedream-4-5-251128");
    assert.equal(response.json.data[0].size, "2048x2048");
  });

  test("Node's fetch reads the 413 of a 30 MB body (drained, then the connection closed)", async () => {
    const response = await fetch(`${gateway}/api/v3/images/generations`, {
      method: "POST", headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "seedream-4-5-251128", prompt: "x".repeat(30 * 1024 * 1024) }),
    });
    assert.equal(response.status, 413);
    assert.equal(response.headers.get("connection"), "close");
    assert.equal(response.headers.get("x-should-retry"), "false");
    assert.equal(((await response.json()) as Json).error.message, "The request body is larger than 15728640 bytes.");
  });
});

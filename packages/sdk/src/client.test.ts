// The SDK against the gateway in-process (app.inject behind an injected fetch), and its retry policy
// against a scripted fetch: every method, every error class, streaming, retries.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { injectFetch } from "../../../src/testing/inject-fetch.js";
import { jpegSize, startHarness, testImage, TEST_KEY, type Harness } from "../../../src/testing/harness.js";
import {
  APIError, AuthenticationError, BadGatewayError, BadRequestError, ConflictError, ConnectionError, DoubaoClient, GatewayTimeoutError, GoneError,
  imagesOf, InternalServerError, NotFoundError, PayloadTooLargeError, PermissionDeniedError, RateLimitError, ServiceUnavailableError, TimeoutError,
  UnsupportedMediaTypeError, type ImageData,
} from "./index.js";
import { readFile, readInput, saveImages } from "./node.js";

const V40 = "doubao-seedream-4-0-250828";
let h: Harness;
let client: DoubaoClient;
let dir = "";
before(async () => {
  h = await startHarness();
  client = new DoubaoClient({ baseUrl: "http://gateway.test", apiKey: TEST_KEY, fetch: injectFetch(h.gateway.app) });
  dir = mkdtempSync(join(tmpdir(), "doubao-sdk-"));
});
after(async () => {
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("every method against the gateway", () => {
  test("images.generate: a 4.x answer with its types; n goes to /v1 as exactly n images", async () => {
    const answer = await client.images.generate({ model: V40, prompt: "a lighthouse", size: "1280x720", response_format: "b64_json", watermark: false });
    assert.equal(answer.model, V40);
    const first = answer.data[0] as ImageData;
    assert.equal(first.size, "1280x720");
    assert.deepEqual(await jpegSize(Buffer.from(first.b64_json as string, "base64")), { format: "jpeg", width: 1280, height: 720 });
    const three = await client.images.generate({ model: V40, prompt: "three boats", size: "1280x720", n: 3, response_format: "b64_json" });
    assert.equal(three.data.length, 3);
    assert.equal(three.usage.generated_images, 3);
  });

  test("images.generateStream yields Ark's events; generateStreamOpenAI OpenAI's", async () => {
    const types: string[] = [];
    for await (const event of client.images.generateStream({ model: V40, prompt: "two kites [[images:2]]", size: "1280x720", sequential_image_generation: "auto" })) {
      types.push(`${event.type}${"image_index" in event ? `#${event.image_index}` : ""}`);
    }
    assert.deepEqual(types, ["image_generation.partial_succeeded#0", "image_generation.partial_succeeded#1", "image_generation.completed"]);
    const sizes: string[] = [];
    for await (const event of client.images.generateStreamOpenAI({ model: V40, prompt: "one kite", size: "1280x720" })) if (event.type === "image_generation.completed") sizes.push(event.size);
    assert.deepEqual(sizes, ["1280x720"]);
  });

  test("a stream that fails: the error event is thrown as a typed error after the images before it", async () => {
    const seen: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const event of client.images.generateStreamOpenAI({ model: V40, prompt: "cut [[drop-after:1]]", size: "1280x720", sequential_image_generation: "auto", sequential_image_generation_options: { max_images: 3 } })) {
          if (event.type === "image_generation.completed") seen.push(event.image_index);
        }
      })(),
      (error: Error) => error instanceof BadGatewayError && (error as BadGatewayError).code === "UpstreamUnavailable",
    );
    assert.deepEqual(seen, [0]);
  });

  test("images.edit with several inputs read from files, buffers and blobs", async () => {
    const path = join(dir, "reference.png");
    writeFileSync(path, await testImage(300, 200, "png"));
    const references = h.gateway.emulator?.stats.referenceImages ?? 0;
    const answer = await client.images.edit({ model: V40, image: [await readFile(path), await testImage(64, 64), new Blob([new Uint8Array(await testImage(80, 60))])], prompt: "together", size: "1280x720", response_format: "b64_json" });
    assert.equal((answer.data[0] as ImageData).size, "1280x720");
    assert.equal(h.gateway.emulator?.stats.referenceImages, references + 3);
  });

  test("drawing.create and portrait.create, with an input read from a path", async () => {
    const drawing = await client.drawing.create({ prompt: "千军万马", width: 256, height: 256, use_sr: false });
    assert.equal(drawing.code, 10000);
    assert.equal(drawing.data.image_urls.length, 1);
    const path = join(dir, "face.jpeg");
    writeFileSync(path, await testImage(600, 800));
    const portrait = await client.portrait.create({ image_input: await readInput(path), width: 512, height: 512 }, { responseFormat: "b64_json" });
    assert.equal(portrait.status, 10000);
    assert.deepEqual(await jpegSize(Buffer.from(portrait.data.binary_data_base64[0] as string, "base64")), { format: "jpeg", width: 512, height: 512 });
  });

  test("tasks.submit, tasks.get and tasks.wait with progress", async () => {
    const { task_id: taskId } = await client.tasks.submit("/doubao/drawing", { prompt: "slow [[fault:slow:300]]", width: 256, height: 256, use_sr: false });
    assert.match(taskId, /^\d{14}[0-9A-F]{16}$/);
    const first = await client.tasks.get(taskId);
    assert.deepEqual(first, { status_code: 202, err: "result pending" });
    const progress: number[] = [];
    const polling = new DoubaoClient({ baseUrl: "http://gateway.test", apiKey: TEST_KEY, fetch: injectFetch(h.gateway.app), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 50))) });
    const done = await polling.tasks.wait<{ code: number }>(taskId, { onProgress: ({ polls }) => progress.push(polls) });
    assert.equal(done.code, 10000);
    const task = await client.tasks.retrieve(taskId);
    assert.deepEqual([task.status, task.status_code], ["succeeded", 200]);
    assert.ok(progress.length >= 1 && progress[0] === 1);
    const failed = await client.tasks.submit("/doubao/images/generations", { model: V40, prompt: "x", size: "1x1" });
    await assert.rejects(client.tasks.wait(failed.task_id, { intervalMs: 20 }), (error: Error) => error instanceof BadRequestError && (error as BadRequestError).param === "size");
  });

  test("models.list/retrieve, usage.get, admin.keys.*, admin.usage", async () => {
    const models = await client.models.list();
    assert.ok(models.data.some((model) => model.id === V40));
    assert.equal((await client.models.retrieve("seedream-4.5")).capabilities?.max_reference_images, 14);
    const usage = await client.usage.get({ group_by: "model" });
    assert.equal(usage.object, "usage");
    assert.ok(usage.totals.images > 0);
    const created = await client.admin.keys.create({ name: "sdk-user", rpm_limit: 10 });
    assert.match(created.secret, /^dg_/);
    assert.equal(created.key.rpm_limit, 10);
    assert.ok((await client.admin.keys.list()).some((key) => key.id === created.key.id));
    assert.equal((await client.admin.keys.get("sdk-user")).id, created.key.id);
    assert.equal((await client.admin.keys.update(created.key.id, { rpm_limit: null })).rpm_limit, null);
    assert.equal((await client.admin.keys.disable(created.key.id)).status, "disabled");
    assert.equal((await client.admin.keys.enable(created.key.id)).status, "active");
    const user = new DoubaoClient({ baseUrl: "http://gateway.test", apiKey: created.secret, fetch: injectFetch(h.gateway.app) });
    await assert.rejects(user.admin.keys.list(), (error: Error) => error instanceof PermissionDeniedError && (error as PermissionDeniedError).errCode === -10009);
    assert.deepEqual(await client.admin.keys.delete(created.key.id), { id: created.key.id, deleted: true });
    await assert.rejects(user.models.list(), AuthenticationError);
    const report = await client.admin.usage({ group_by: "key" });
    assert.deepEqual(report.group_by, ["key"]);
  });

  test("admin.requests: the newest ledger rows; health.ready: providers and breakers", async () => {
    const made = await client.images.generate({ model: V40, prompt: "for the request list", size: "1K", response_format: "b64_json" });
    assert.equal(made.data.length, 1);
    const recent = await client.admin.requests({ limit: 1 });
    assert.deepEqual([recent.object, recent.currency, recent.data.length], ["list", "CNY", 1]);
    assert.deepEqual({ ...recent.data[0], id: "", created_at: "", latency_ms: 0 }, {
      id: "", created_at: "", key_id: recent.data[0]?.key_id, key_name: "bootstrap", model: V40, served_model: V40, endpoint: "/doubao/images/generations",
      provider: "ark", state: "settled", status: 200, images: 1, latency_ms: 0, cost: 0.2, error_code: null,
    });
    const ready = await client.health.ready();
    assert.equal(ready.ready, true);
    assert.deepEqual(ready.providers.map((provider) => [provider.id, provider.breaker, provider.usable]), [["ark", "closed", true], ["visual", "closed", true], ["302ai", "closed", true]]);
  });

  test("saveImages writes each image and never overwrites a file", async () => {
    const answer = await client.images.generate({ model: V40, prompt: "save me", size: "1280x720", response_format: "url" });
    const fetchFunction = injectFetch(h.gateway.app);
    const first = await saveImages(answer, { dir, name: "same", fetch: fetchFunction });
    const second = await saveImages(answer, { dir, name: "same", fetch: fetchFunction });
    assert.deepEqual([first, second], [[join(dir, "same.jpeg")], [join(dir, "same-2.jpeg")]]);
    assert.ok(readdirSync(dir).includes("same-2.jpeg"));
    assert.equal(imagesOf(answer).length, 1);
  });

  test("a refusal is a typed error with the contract's fields", async () => {
    await assert.rejects(client.images.generate({ model: V40, prompt: "x", size: "1279x720" }), (error: Error) => {
      assert.ok(error instanceof BadRequestError);
      assert.equal(error.status, 400);
      assert.equal(error.code, "InvalidParameter");
      assert.equal(error.errCode, -10003);
      assert.equal(error.param, "size");
      assert.match(error.requestId ?? "", /^\d{14}[0-9A-F]{16}$/);
      assert.match(error.message, /^Invalid parameter `size`: doubao-seedream-4-0-250828 accepts/);
      return true;
    });
    await assert.rejects(client.models.retrieve("dall-e-3"), NotFoundError);
  });
});

/** A fetch that plays a script of answers (or failures), recording each call. */
function scripted(steps: Array<Response | Error | "hang">) {
  const calls: string[] = [];
  const fetchFunction: typeof fetch = async (input, init) => {
    calls.push(String(input));
    const step = steps.shift();
    if (step === undefined) throw new Error("script ran out");
    if (step === "hang") {
      return new Promise((_, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal?.reason)));
    }
    if (step instanceof Error) throw step;
    return step;
  };
  return { calls, fetchFunction };
}

const errorBody = (status: number, code: string) =>
  new Response(JSON.stringify({ error: { code, message: `${code} happened`, message_cn: "出错", param: null, type: "x", err_code: -10011 }, request_id: "r1" }), {
    status, headers: { "content-type": "application/json", "x-request-id": "r1" },
  });
const ok = () => new Response(JSON.stringify({ object: "list", data: [] }), { status: 200, headers: { "content-type": "application/json" } });

describe("the retry policy and the error classes (scripted fetch, no sleeping)", () => {
  const make = (steps: Array<Response | Error | "hang">, extra: { timeoutMs?: number; maxRetries?: number } = {}) => {
    const { calls, fetchFunction } = scripted(steps);
    const waits: number[] = [];
    const sdk = new DoubaoClient({ baseUrl: "http://x.test", apiKey: "k", fetch: fetchFunction, random: () => 0, sleep: async (ms) => void waits.push(ms), ...extra });
    return { sdk, calls, waits };
  };

  test("429 with Retry-After: waits what the server said, then succeeds", async () => {
    const limited = errorBody(429, "RateLimitExceeded");
    limited.headers.set("retry-after", "3");
    const { sdk, calls, waits } = make([limited, ok()]);
    assert.deepEqual(await sdk.models.list(), { object: "list", data: [] });
    assert.equal(calls.length, 2);
    assert.deepEqual(waits, [3000]);
  });

  test("5xx: exponential backoff with jitter (0.5 s, 1 s at the floor of 75 %), then the typed error", async () => {
    const { sdk, calls, waits } = make([errorBody(503, "ServiceUnavailable"), errorBody(502, "UpstreamUnavailable"), errorBody(500, "InternalServiceError")]);
    await assert.rejects(sdk.models.list(), (error: Error) => error instanceof InternalServerError && (error as InternalServerError).requestId === "r1");
    assert.equal(calls.length, 3);
    assert.deepEqual(waits, [375, 750]);
  });

  test("health.ready answers a 503 (not ready) with its body, neither thrown nor retried", async () => {
    const body = { ready: false, providers: [{ id: "ark", label: "Ark", breaker: "open", usable: false }], dependencies: {}, reason: "every upstream's circuit breaker is open" };
    const { sdk, calls } = make([new Response(JSON.stringify(body), { status: 503, headers: { "content-type": "application/json" } })]);
    assert.deepEqual(await sdk.health.ready(), body);
    assert.equal(calls.length, 1);
  });

  test("4xx refusals are never retried", async () => {
    for (const [status, Class] of [[400, BadRequestError], [401, AuthenticationError], [403, PermissionDeniedError], [404, NotFoundError], [410, GoneError], [413, PayloadTooLargeError], [415, UnsupportedMediaTypeError]] as const) {
      const { sdk, calls } = make([errorBody(status, "X")]);
      await assert.rejects(sdk.models.list(), Class);
      assert.equal(calls.length, 1, `status ${status}`);
    }
  });

  test("408 and 409 are retried; each status has its class", async () => {
    const { sdk, calls } = make([errorBody(408, "Timeout"), errorBody(409, "Conflict"), ok()]);
    await sdk.models.list();
    assert.equal(calls.length, 3);
    for (const [status, Class] of [[409, ConflictError], [429, RateLimitError], [502, BadGatewayError], [503, ServiceUnavailableError], [504, GatewayTimeoutError], [418, APIError]] as const) {
      const { sdk: once } = make([errorBody(status, "X")], { maxRetries: 0 });
      await assert.rejects(once.models.list(), (error: Error) => error instanceof Class && (error as APIError).status === status && (error as APIError).messageCn === "出错");
    }
  });

  test("a hang past the timeout is a TimeoutError after every attempt timed out; a reset is retried, then a ConnectionError", async () => {
    const hanging = make(["hang", "hang"], { timeoutMs: 20, maxRetries: 1 });
    await assert.rejects(hanging.sdk.models.list(), (error: Error) => error instanceof TimeoutError && error.message === "no answer within 20 ms");
    assert.equal(hanging.calls.length, 2);
    const reset = () => Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNRESET" } });
    const resets = make([reset(), reset(), ok()]);
    assert.deepEqual(await resets.sdk.models.list(), { object: "list", data: [] });
    const down = make([reset(), reset(), reset()]);
    await assert.rejects(down.sdk.models.list(), (error: Error) => error instanceof ConnectionError && error.message === "could not reach http://x.test: ECONNRESET");
    assert.equal(down.calls.length, 3);
  });

  test("302.AI's own error body is read too", async () => {
    const { sdk } = make([new Response(JSON.stringify({ error: { err_code: -10002, message: "Invalid API key", message_cn: "无效的 API Key", type: "api_error" } }), { status: 401 })]);
    await assert.rejects(sdk.models.list(), (error: Error) => error instanceof AuthenticationError && (error as AuthenticationError).errCode === -10002 && error.message === "Invalid API key");
  });
});

// Wrong calls fail to compile (checked by `npm run typecheck`; never run).
export function typeErrors(sdk: DoubaoClient) {
  // @ts-expect-error `model` is required
  void sdk.images.generate({ prompt: "x" });
  // @ts-expect-error `width` is a number
  void sdk.drawing.create({ prompt: "x", width: "512" });
  // @ts-expect-error `response_format` is url or b64_json
  void sdk.images.generate({ model: V40, prompt: "x", response_format: "png" });
  // @ts-expect-error `rpm_limit` is a number or null
  void sdk.admin.keys.create({ name: "x", rpm_limit: "10" });
}

test("the main entry is browser-safe: no module of it imports a Node built-in (only ./node does)", async () => {
  const { readdirSync: list, readFileSync: read } = await import("node:fs");
  const dist = new URL("../dist/", import.meta.url);
  const files = list(dist).filter((name) => name.endsWith(".js") && name !== "node.js");
  assert.deepEqual(files.sort(), ["capabilities.js", "client.js", "errors.js", "images.js", "index.js", "schemas.js", "types.js"]);
  for (const name of files) assert.doesNotMatch(read(new URL(name, dist), "utf8"), /from "node:|require\("node:|\bBuffer\b|process\./, name);
  assert.match(read(new URL("node.js", dist), "utf8"), /from "node:fs\/promises"/);
});

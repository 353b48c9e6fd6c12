// The emulator's asynchronous Visual models on loopback, signed as Volcengine signs: a task goes in_queue →
// generating → done with its images; its fields are checked at submit; a finished task can carry an output refusal
// (50511) or be expired; an unknown task, or one past its lifetime, is not_found.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import sharp from "sharp";
import { formatXDate, sha256Hex, sign } from "../providers/visual/sign.js";
import { testImage, type Json } from "../testing/harness.js";
import { createEmulator, type Emulator } from "./server.js";

const credentials = { arkApiKey: "ark-test-key", accessKeyId: "AKTESTASYNC", secretAccessKey: "async-test-secret", api302Key: "sk-302-async-test-0123456789" };
let emulator: Emulator;
let base = "";
let clock = Date.now();
before(async () => {
  // Its own clock, so that the phases are stepped through without waiting (the lifetime is 12 h).
  emulator = createEmulator({ ...credentials, now: () => new Date(clock), asyncTiming: { queueMs: 1_000, generateMs: 2_000 } });
  base = await emulator.listen(0, "127.0.0.1");
});
after(() => emulator.close());

async function call(action: "CVSync2AsyncSubmitTask" | "CVSync2AsyncGetResult", body: Record<string, unknown>): Promise<{ status: number; json: Json }> {
  const text = JSON.stringify(body);
  const host = new URL(base).host;
  const payloadHash = sha256Hex(text);
  const headers = { "content-type": "application/json", host, "x-date": formatXDate(new Date(clock)), "x-content-sha256": payloadHash };
  const { authorization } = sign({
    method: "POST", path: "/", query: { Action: action, Version: "2022-08-31" }, headers, payloadHash,
    accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, region: "cn-north-1", service: "cv",
  });
  const { host: _host, ...rest } = headers;
  const response = await fetch(`${base}/?Action=${action}&Version=2022-08-31`, { method: "POST", headers: { ...rest, authorization }, body: text });
  return { status: response.status, json: (await response.json()) as Json };
}

const JIMENG = "jimeng_t2i_v40";

test("Jimeng 4.0: submit answers a task_id; the task is in_queue, then generating, then done with three PNGs at the area asked", async () => {
  const submitted = await call("CVSync2AsyncSubmitTask", { req_key: JIMENG, prompt: "three lanterns [[images:3]]", size: 1024 * 1024 });
  assert.equal(submitted.status, 200);
  assert.deepEqual(Object.keys(submitted.json), ["code", "data", "message", "request_id", "status", "time_elapsed"]);
  assert.equal(submitted.json.code, 10000);
  const taskId = submitted.json.data.task_id as string;
  assert.match(taskId, /^[0-9a-f]{20}$/);
  const result = () => call("CVSync2AsyncGetResult", { req_key: JIMENG, task_id: taskId, req_json: JSON.stringify({ return_url: true }) });
  assert.equal((await result()).json.data.status, "in_queue");
  clock += 1_500;
  assert.equal((await result()).json.data.status, "generating");
  clock += 2_000;
  const done = await result();
  assert.equal(done.json.code, 10000);
  assert.equal(done.json.data.status, "done");
  assert.equal(done.json.data.binary_data_base64, null);
  assert.equal(done.json.data.image_urls.length, 3);
  for (const url of done.json.data.image_urls as string[]) {
    const { width, height, format } = await sharp(Buffer.from(await (await fetch(url)).arrayBuffer())).metadata();
    assert.equal(`${width}x${height} ${format}`, "1024x1024 png");
  }
  assert.deepEqual((await result()).json.data.image_urls.length, 3, "asked again: the same finished task");
  // Without return_url the images come inline; another req_key does not know the task.
  assert.equal((await call("CVSync2AsyncGetResult", { req_key: JIMENG, task_id: taskId })).json.data.binary_data_base64.length, 3);
  assert.equal((await call("CVSync2AsyncGetResult", { req_key: "jimeng_seedream46_cvtob", task_id: taskId })).json.data.status, "not_found");
});

test("fields are checked at submit: Jimeng 4.6's integer scale 1–100, 4.0's area 1024²–4096², SeedEdit's one image", async () => {
  for (const [body, code, message] of [
    [{ req_key: "jimeng_seedream46_cvtob", prompt: "x", scale: 0.5 }, 50200, "Request Invalid Args: scale"],
    [{ req_key: JIMENG, prompt: "x", size: 1000 * 1000 }, 50200, "Request Invalid Args: size"],
    [{ req_key: JIMENG, prompt: "x", width: 8192, height: 256 }, 50200, "Request Invalid Args: width"],
    [{ req_key: JIMENG, prompt: "x".repeat(801) }, 50200, "Request Invalid Args: prompt"],
    [{ req_key: "seededit_v3.0", prompt: "x" }, 50201, "Request Missing Args: image"],
    [{ req_key: JIMENG }, 50201, "Request Missing Args: prompt"],
    [{ req_key: "jimeng_t2i_v99", prompt: "x" }, 50200, "Request Invalid Args: req_key"],
  ] as const) {
    const refused = await call("CVSync2AsyncSubmitTask", body);
    assert.equal(refused.status, 400, JSON.stringify(body));
    assert.deepEqual({ code: refused.json.code, message: refused.json.message, data: refused.json.data }, { code, message, data: null });
  }
});

test("SeedEdit 3.0 on CV edits its one image (raw base64), at the image's size; a finished task can be an output refusal or expired", async () => {
  const photo = (await testImage(640, 480)).toString("base64");
  const edit = await call("CVSync2AsyncSubmitTask", { req_key: "seededit_v3.0", prompt: "make it snow", binary_data_base64: [photo], scale: 0.5 });
  const refused = await call("CVSync2AsyncSubmitTask", { req_key: JIMENG, prompt: "a face [[result:50511]]" });
  const expired = await call("CVSync2AsyncSubmitTask", { req_key: JIMENG, prompt: "later [[result:expired]]" });
  clock += 3_100;
  const edited = await call("CVSync2AsyncGetResult", { req_key: "seededit_v3.0", task_id: edit.json.data.task_id });
  const { width, height, format } = await sharp(Buffer.from(edited.json.data.binary_data_base64[0] as string, "base64")).metadata();
  assert.equal(`${width}x${height} ${format}`, "640x480 jpeg");
  const outcome = await call("CVSync2AsyncGetResult", { req_key: JIMENG, task_id: refused.json.data.task_id });
  assert.deepEqual({ status: outcome.status, code: outcome.json.code, message: outcome.json.message, data: outcome.json.data }, { status: 400, code: 50511, message: "Post Img Risk Not Pass", data: null });
  assert.equal((await call("CVSync2AsyncGetResult", { req_key: JIMENG, task_id: expired.json.data.task_id })).json.data.status, "expired");
});

test("an unknown task, or one older than 12 h, is not_found; a submit refused by a fault is the fault's code", async () => {
  assert.equal((await call("CVSync2AsyncGetResult", { req_key: JIMENG, task_id: "0123456789abcdef0123" })).json.data.status, "not_found");
  const old = await call("CVSync2AsyncSubmitTask", { req_key: JIMENG, prompt: "old" });
  clock += 12 * 3600 * 1000 + 1;
  assert.equal((await call("CVSync2AsyncGetResult", { req_key: JIMENG, task_id: old.json.data.task_id })).json.data.status, "not_found");
  const text = await call("CVSync2AsyncSubmitTask", { req_key: JIMENG, prompt: "refused [[fault:visual:50412]]" });
  assert.equal(text.status, 400);
  assert.equal(text.json.code, 50412);
  const before = emulator.stats.visualTasks.submitted;
  const busy = await call("CVSync2AsyncSubmitTask", { req_key: JIMENG, prompt: "busy [[fault:visual:50429]]" });
  assert.equal(busy.status, 429);
  assert.equal(emulator.stats.visualTasks.submitted, before, "a refused submit makes no task");
});

test("302.AI's SeedEdit 3.0 paths: /doubao/drawing/seededit_v30 submits, /doubao/drawing/seededit_v30_result answers the task, URLs with ?response_format=url", async () => {
  const relay = async (path: string, body: Record<string, unknown>) => {
    const response = await fetch(`${base}${path}`, { method: "POST", headers: { authorization: `Bearer ${credentials.api302Key}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: response.status, json: (await response.json()) as Json };
  };
  const photo = (await testImage(512, 768)).toString("base64");
  const submitted = await relay("/doubao/drawing/seededit_v30", { binary_data_base64: [photo], prompt: "add a rainbow", seed: -1, scale: 0.5 });
  assert.equal(submitted.status, 200);
  assert.equal(submitted.json.code, 10000);
  const taskId = submitted.json.data.task_id as string;
  assert.equal((await relay("/doubao/drawing/seededit_v30_result?response_format=url", { task_id: taskId })).json.data.status, "in_queue");
  clock += 3_100;
  const done = await relay("/doubao/drawing/seededit_v30_result?response_format=url", { task_id: taskId });
  assert.equal(done.json.data.status, "done");
  const { width, height } = await sharp(Buffer.from(await (await fetch(done.json.data.image_urls[0] as string)).arrayBuffer())).metadata();
  assert.equal(`${width}x${height}`, "512x768");
  const refused = await relay("/doubao/drawing/seededit_v30", { prompt: "no image" });
  assert.deepEqual({ status: refused.status, code: refused.json.code, message: refused.json.message }, { status: 400, code: 50201, message: "Request Missing Args: image" });
  const wrongKey = await fetch(`${base}/doubao/drawing/seededit_v30`, { method: "POST", headers: { authorization: "Bearer sk-wrong", "content-type": "application/json" }, body: "{}" });
  assert.equal(wrongKey.status, 401);
});

// Retired and deprecated models (LIVE-MODELS.md §2.5) against a standalone emulator that answers
// Seedream 3.0 and SeedEdit 3.0 as Ark does today; the 302.AI relay for the live family; `check`'s probes.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { checkUpstreams, formatCheck } from "../cli/check.js";
import { loadConfig } from "../config/environment.js";
import { createEmulator, type Emulator } from "../emulator/server.js";
import { createGateway, type Gateway } from "../server/runtime.js";
import { dataUrl, jpegSize, testImage, TEST_KEY, type Json } from "../testing/harness.js";

const SEEDREAM_3 = "doubao-seedream-3-0-t2i-250415";
const SEEDEDIT_3 = "doubao-seededit-3-0-i2i-250628";
const V45 = "doubao-seedream-4-5-251128";
const ARK_KEY = "ark-key-for-lifecycle-tests";
const RELAY_KEY = "sk-302-key-for-lifecycle-tests";

/** The Seedream 3.0 page's example, unchanged. */
const PAGE_EXAMPLE = {
  model: SEEDREAM_3, prompt: "鱼眼镜头,一只猫咪的头部,画面呈现出猫咪的五官因为拍摄方式扭曲的效果。", response_format: "url", size: "1024x1024", seed: 12, guidance_scale: 2.5, watermark: false,
};

let emulator: Emulator;
let base = "";
const root = mkdtempSync(join(tmpdir(), "doubao-gateway-lifecycle-"));
const gateways: Gateway[] = [];

before(async () => {
  emulator = createEmulator({
    arkApiKey: ARK_KEY, accessKeyId: "AKUNUSED", secretAccessKey: "unused", api302Key: RELAY_KEY, retiredModels: [SEEDREAM_3, SEEDEDIT_3],
    inactiveModels: ["doubao-seedream-5-0-260128"],
  });
  base = await emulator.listen(0, "127.0.0.1");
});
after(async () => {
  for (const gateway of gateways) await gateway.close();
  await emulator.close();
  rmSync(root, { recursive: true, force: true });
});

function environment(upstream: "ark" | "302ai", yaml?: string): Record<string, string> {
  const name = `g${gateways.length}`;
  const config: Record<string, string> = { NODE_ENV: "production", DATA_DIR: join(root, name), GATEWAY_BOOTSTRAP_KEY: TEST_KEY, PUBLIC_BASE_URL: "http://gw.test" };
  if (upstream === "ark") Object.assign(config, { ARK_API_KEY: ARK_KEY, ARK_BASE_URL: `${base}/api/v3` });
  else Object.assign(config, { API302_KEY: RELAY_KEY, API302_BASE_URL: base });
  if (yaml) {
    writeFileSync(join(root, `${name}.yaml`), yaml);
    config.GATEWAY_CONFIG = join(root, `${name}.yaml`);
  }
  return config;
}

async function gatewayWith(upstream: "ark" | "302ai", yaml?: string) {
  const gateway = await createGateway(loadConfig(environment(upstream, yaml)));
  gateways.push(gateway);
  const post = async (url: string, body: unknown) => {
    const response = await gateway.app.inject({ method: "POST", url, headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" }, payload: JSON.stringify(body) });
    return { status: response.statusCode, json: response.json() as Json, headers: response.headers };
  };
  const file = async (url: string) => (await gateway.app.inject({ method: "GET", url: url.replace("http://gw.test", "") })).rawPayload;
  return { gateway, post, file };
}

test("the Seedream 3.0 page example against an upstream that retired 3.0: served by 4.5 at the size asked, in 3.0's shape, with lifecycle headers", async () => {
  const { gateway, post, file } = await gatewayWith("ark");
  const response = await post("/doubao/images/generations", PAGE_EXAMPLE);
  assert.equal(response.status, 200);
  assert.equal(response.headers["x-gateway-served-model"], V45);
  assert.equal(response.headers["x-gateway-model-lifecycle"], "retired");
  assert.equal(response.headers.deprecation, `@${Date.UTC(2026, 4, 13) / 1000}`);
  assert.equal(response.headers.sunset, "Wed, 13 May 2026 00:00:00 GMT");
  assert.equal(response.headers.link, `</v1/models/${V45}>; rel="successor-version"`);
  assert.deepEqual(Object.keys(response.json), ["model", "created", "data", "usage"]);
  assert.equal(response.json.model, SEEDREAM_3);
  assert.deepEqual(Object.keys(response.json.data[0]), ["url"]);
  assert.deepEqual(response.json.usage, { generated_images: 1, output_tokens: 4096, total_tokens: 4096 });
  assert.deepEqual(await jpegSize(await file(response.json.data[0].url)), { format: "jpeg", width: 1024, height: 1024 });
  const row = (await gateway.accounts.ledger.get(response.headers["x-request-id"] as string)) as Json;
  assert.deepEqual([row.model, row.served_model, row.images, row.cost_micros], [SEEDREAM_3, V45, 1, 250000]);
});

test("SeedEdit 3.0 retired: its input image becomes 4.5's reference image, the answer has SeedEdit's adaptive size", async () => {
  const { post, file } = await gatewayWith("ark");
  const references = emulator.stats.referenceImages;
  const response = await post("/v1/images/generations", { model: "seededit-3", prompt: "make it night", image: dataUrl(await testImage(1600, 900)), watermark: false });
  assert.equal(response.status, 200);
  assert.equal(response.headers["x-gateway-served-model"], V45);
  assert.equal(response.json.model, SEEDEDIT_3);
  assert.equal(emulator.stats.referenceImages, references + 1);
  assert.deepEqual(await jpegSize(await file(response.json.data[0].url)), { format: "jpeg", width: 1312, height: 736 });
});

test("with the replacement removed in GATEWAY_CONFIG: 410 ModelRetired naming a model to use, and no upstream call", async () => {
  const { post } = await gatewayWith("ark", `models:\n  ${SEEDREAM_3}:\n    lifecycle: { state: retired, sunset: "2026-05-13", replacement: null }\n`);
  const calls = emulator.stats.byApi.ark;
  const response = await post("/doubao/images/generations", PAGE_EXAMPLE);
  assert.equal(response.status, 410);
  assert.equal(response.headers.link, `</v1/models/${V45}>; rel="successor-version"`);
  assert.deepEqual(response.json.error, {
    code: "ModelRetired", param: "model", type: "invalid_request_error", err_code: -10011,
    message: `The model ${SEEDREAM_3} was retired upstream on 2026-05-13 and this gateway has no replacement configured for it; use ${V45} instead.`,
    message_cn: `模型 ${SEEDREAM_3} 已于上游下线（2026-05-13），网关未配置替代模型，请改用 ${V45}。`,
  });
  assert.equal(emulator.stats.byApi.ark, calls);
});

test("a model the table calls live that the upstream says does not exist: 502 telling the operator what to do", async () => {
  const { post } = await gatewayWith("ark", `models:\n  ${SEEDREAM_3}: { lifecycle: live }\n`);
  const response = await post("/doubao/images/generations", PAGE_EXAMPLE);
  assert.equal(response.status, 502);
  assert.equal(response.json.error.code, "InvalidEndpointOrModel.NotFound");
  assert.equal(response.json.error.type, "upstream_error");
  assert.match(
    response.json.error.message,
    new RegExp(`^The upstream \\(Ark\\) refused the gateway's account \\(InvalidEndpointOrModel\\.NotFound: The model or endpoint ${SEEDREAM_3} does not exist or you do not have access to it\\. Request id: \\w+\\); ` +
      "the model is retired upstream or not activated for the gateway's account\\. The operator must activate it in the Ark console, or mark it retired in GATEWAY_CONFIG " +
      "\\(models\\.<id>\\.lifecycle: \\{state: retired, replacement: <a live model>\\}\\); `doubao-gateway check` lists which models are live\\.$"),
  );
});

test("a deprecated model is served with Deprecation, Sunset and Link headers", async () => {
  const { post } = await gatewayWith("ark", `models:\n  doubao-seedream-4-0-250828:\n    lifecycle: { state: deprecated, deprecated_at: "2026-11-01", sunset: "2027-01-31", replacement: ${V45} }\n`);
  const response = await post("/doubao/images/generations", { model: "seedream-4", prompt: "fog", size: "1280x720", watermark: false });
  assert.equal(response.status, 200);
  assert.equal(response.headers["x-gateway-model-lifecycle"], "deprecated");
  assert.equal(response.headers.deprecation, `@${Date.UTC(2026, 10, 1) / 1000}`);
  assert.equal(response.headers.sunset, "Sun, 31 Jan 2027 00:00:00 GMT");
  assert.equal(response.headers.link, `</v1/models/${V45}>; rel="successor-version"`);
  assert.equal(response.headers["x-gateway-served-model"], undefined);
});

test("a 4.5 request with two reference images gives the same answer shape through the 302.AI relay as through Ark", async () => {
  const body = { model: V45, prompt: "the two of them, together", image: [dataUrl(await testImage(200, 300)), dataUrl(await testImage(300, 200, "png"), "png")], size: "1920x1920", watermark: true };
  const viaArk = await (await gatewayWith("ark")).post("/doubao/images/generations", body);
  const relay = await gatewayWith("302ai");
  const relayCalls = emulator.stats.byApi["302"];
  const viaRelay = await relay.post("/doubao/images/generations", body);
  assert.equal(viaRelay.status, 200, JSON.stringify(viaRelay.json));
  assert.equal(emulator.stats.byApi["302"], relayCalls + 1);
  assert.equal(viaArk.status, 200);
  assert.equal(viaRelay.status, 200);
  assert.equal(viaRelay.headers["x-gateway-provider"], "302ai");
  const shape = (json: Json) => ({ keys: Object.keys(json), items: json.data.map((item: Json) => [Object.keys(item), item.size]), usage: json.usage, model: json.model });
  assert.deepEqual(shape(viaRelay.json), shape(viaArk.json));
  assert.deepEqual(shape(viaArk.json), {
    keys: ["model", "created", "data", "usage"], items: [[["url", "size"], "1920x1920"]], usage: { generated_images: 1, output_tokens: 14400, total_tokens: 14400 }, model: V45,
  });
  assert.deepEqual(await jpegSize(await relay.file(viaRelay.json.data[0].url)), { format: "jpeg", width: 1920, height: 1920 });
});

test("doubao-gateway check probes each image model at no cost: live, retired, per provider", async () => {
  const generated = emulator.stats.imagesGenerated;
  const result = await checkUpstreams(loadConfig({ ...environment("ark"), API302_KEY: RELAY_KEY, API302_BASE_URL: base }));
  assert.equal(emulator.stats.imagesGenerated, generated);
  assert.deepEqual(result.probes[SEEDREAM_3], { ark: { state: "retired" }, "302ai": { state: "retired" } });
  assert.deepEqual(result.probes[V45], { ark: { state: "live" }, "302ai": { state: "live" } });
  assert.deepEqual(result.probes["doubao-seedream-5-0-pro-260628"], { ark: { state: "live" }, "302ai": { state: "live" } });
  assert.deepEqual(result.probes["doubao-seedream-5-0-260128"], { ark: { state: "not-activated" }, "302ai": { state: "live" } });
  const text = formatCheck(result);
  assert.match(text, new RegExp(`\\n  ${SEEDREAM_3}\\s+retired\\s+retired\\n`));
  assert.match(text, new RegExp(`\\n  ${V45}\\s+live\\s+live\\n`));
  assert.match(text, /\n {2}doubao-seedream-5-0-260128\s+not activated\s+live\n/);
});

test("an operator's edit of a model's capabilities in GATEWAY_CONFIG changes what the gateway accepts, with no release", async () => {
  const { post } = await gatewayWith("ark", `models:\n  ${V45}:\n    capabilities: { max_reference_images: 1, sizes: { keywords: [4K] } }\n`);
  const calls = emulator.stats.byApi.ark;
  const two = await post("/doubao/images/generations", { model: V45, prompt: "x", image: [dataUrl(await testImage(64, 64)), dataUrl(await testImage(64, 64))] });
  assert.equal(two.status, 400);
  assert.equal(two.json.error.message, `Invalid parameter \`image\`: ${V45} accepts at most 1 reference image (got 2).`);
  const keyword = await post("/doubao/images/generations", { model: V45, prompt: "x", size: "2K" });
  assert.equal(keyword.json.error.message, `Invalid parameter \`size\`: ${V45} accepts one of "4K", or "<W>x<H>" with W×H in [3686400, 16777216] pixels and W/H in [1/16, 16] (got "2K").`);
  assert.equal(emulator.stats.byApi.ark, calls);
});

test("a stream through the 302.AI relay: the relay's events become the gateway's, each image re-hosted", async () => {
  const relay = await gatewayWith("302ai");
  const response = await relay.gateway.app.inject({
    method: "POST", url: "/doubao/images/generations", headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" },
    payload: JSON.stringify({ model: "doubao-seedream-4-0-250828", prompt: "two gulls [[images:2]]", size: "1280x720", sequential_image_generation: "auto", stream: true }),
  });
  assert.equal(response.statusCode, 200);
  const events = response.payload.split("\n\n").filter((block) => block.startsWith("event:") || block.startsWith("data:"));
  assert.deepEqual(events.map((block) => block.split("\n")[0]), [
    "event: image_generation.partial_succeeded", "event: image_generation.partial_succeeded", "event: image_generation.completed", "data: [DONE]",
  ]);
  const first = JSON.parse((events[0] as string).split("\n")[1]?.slice("data: ".length) as string) as Json;
  assert.ok(first.url.startsWith("http://gw.test/files/"));
  assert.deepEqual(await jpegSize(await relay.file(first.url)), { format: "jpeg", width: 1280, height: 720 });
  const row = (await relay.gateway.accounts.ledger.get(response.headers["x-request-id"] as string)) as Json;
  assert.deepEqual([row.provider, row.images, row.reserved_images], ["302ai", 2, 15]);
});

test("a retired 4.x model behind another: its size translated (a WxH the replacement cannot make is resized, a keyword it lacks becomes its nearest)", async () => {
  const { gateway, post, file } = await gatewayWith("ark", `models:\n  doubao-seedream-4-0-250828:\n    lifecycle: { state: retired, sunset: "2026-07-23", replacement: ${V45} }\n`);
  const small = await post("/doubao/images/generations", { model: "doubao-seedream-4-0-250828", prompt: "a kite", size: "1280x720", watermark: false });
  assert.equal(small.status, 200);
  assert.equal(small.headers["x-gateway-served-model"], V45);
  assert.equal(small.json.model, "doubao-seedream-4-0-250828");
  assert.equal(small.json.data[0].size, "1280x720");
  assert.deepEqual(await jpegSize(await file(small.json.data[0].url)), { format: "jpeg", width: 1280, height: 720 });
  const row = (await gateway.accounts.ledger.get(small.headers["x-request-id"] as string)) as Json;
  assert.deepEqual([row.model, row.served_model, row.cost_micros], ["doubao-seedream-4-0-250828", V45, 250000]);
  const keyword = await post("/doubao/images/generations", { model: "seedream-4", prompt: "a kite", size: "1K", watermark: false, response_format: "b64_json" });
  assert.equal(keyword.status, 200);
  assert.equal(keyword.json.data[0].size, "2048x2048");
});

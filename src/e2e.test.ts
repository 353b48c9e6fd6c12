// The real Ark and Visual adapters against the emulator over loopback HTTP, for every endpoint and both formats.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { BASE, dataUrl, jpegSize, startHarness, testImage, type Harness } from "./testing/harness.js";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

const SEEDREAM_EXAMPLE = {
  model: "doubao-seedream-3-0-t2i-250415",
  prompt: "鱼眼镜头,一只猫咪的头部,画面呈现出猫咪的五官因为拍摄方式扭曲的效果。",
  response_format: "url",
  size: "1024x1024",
  seed: 12,
  guidance_scale: 2.5,
  watermark: false,
};

const DRAWING_EXAMPLE = {
  prompt: "千军万马", model_version: "general_v2.1_L", req_schedule_conf: "general_v20_9B_pe", llm_seed: -1, seed: -1, scale: 3.5,
  ddim_steps: 25, width: 512, height: 512, use_pre_llm: true, use_sr: true, sr_seed: -1, sr_strength: 0.4, sr_scale: 3.5, sr_steps: 20,
  is_only_sr: false, return_url: true,
  logo_info: { add_logo: false, position: 0, language: 0, opacity: 0.3, logo_text_content: "这里是明水印内容" },
};

async function download(url: string) {
  assert.ok(url.startsWith(`${BASE}/files/`), `a gateway URL: ${url}`);
  assert.match(url, /\/files\/\d{8}\/[A-Za-z0-9_-]{22}\.jpeg$/);
  const response = await h.get(url, {});
  assert.equal(response.status, 200);
  assert.equal(response.headers["content-type"], "image/jpeg");
  return jpegSize(response.body);
}

describe("Seedream 3.0", () => {
  test("the page example returns the Ark shape and a stored 1024x1024 JPEG", async () => {
    const response = await h.post("/doubao/images/generations", SEEDREAM_EXAMPLE);
    assert.equal(response.status, 200);
    assert.equal(response.headers["x-gateway-provider"], "emulator");
    assert.match(String(response.headers["x-request-id"]), /^\d{14}[0-9A-F]{16}$/);
    assert.deepEqual(Object.keys(response.json), ["model", "created", "data", "usage"]);
    assert.equal(response.json.model, SEEDREAM_EXAMPLE.model);
    assert.ok(Math.abs(response.json.created - Date.now() / 1000) < 60);
    assert.deepEqual(response.json.usage, { generated_images: 1, output_tokens: 4096, total_tokens: 4096 });
    assert.equal(response.json.data.length, 1);
    assert.deepEqual(Object.keys(response.json.data[0]), ["url"]);
    assert.deepEqual(await download(response.json.data[0].url), { format: "jpeg", width: 1024, height: 1024 });
  });

  test("b64_json returns the bytes inline at the asked size, deterministic for prompt and seed", async () => {
    const body = { ...SEEDREAM_EXAMPLE, response_format: "b64_json", size: "1280x720" };
    const first = await h.post("/v1/images/generations", body);
    assert.equal(first.status, 200);
    assert.deepEqual(Object.keys(first.json.data[0]), ["b64_json"]);
    assert.deepEqual(first.json.usage, { generated_images: 1, output_tokens: 3600, total_tokens: 3600 });
    const bytes = Buffer.from(first.json.data[0].b64_json, "base64");
    assert.deepEqual(await jpegSize(bytes), { format: "jpeg", width: 1280, height: 720 });
    const again = await h.post("/v1/images/generations", body);
    assert.equal(again.json.data[0].b64_json, first.json.data[0].b64_json);
    const otherSeed = await h.post("/v1/images/generations", { ...body, seed: 13 });
    assert.notEqual(otherSeed.json.data[0].b64_json, first.json.data[0].b64_json);
    const otherPrompt = await h.post("/v1/images/generations", { ...body, prompt: "一只狗" });
    assert.notEqual(otherPrompt.json.data[0].b64_json, first.json.data[0].b64_json);
  });

  test("n on /v1 makes n images with seeds seed, seed+1, …", async () => {
    const response = await h.post("/v1/images/generations", { ...SEEDREAM_EXAMPLE, response_format: "b64_json", size: "512x512", n: 3 });
    assert.equal(response.status, 200);
    assert.equal(response.json.data.length, 3);
    assert.deepEqual(response.json.usage, { generated_images: 3, output_tokens: 3072, total_tokens: 3072 });
    const single = await h.post("/v1/images/generations", { ...SEEDREAM_EXAMPLE, response_format: "b64_json", size: "512x512", seed: 13 });
    assert.equal(response.json.data[1].b64_json, single.json.data[0].b64_json);
  });

  test("defaults: 1024x1024, and the watermark changes the picture", async () => {
    const base = { model: SEEDREAM_EXAMPLE.model, prompt: "a lighthouse", seed: 5, response_format: "b64_json" };
    const marked = await h.post("/doubao/images/generations", base);
    const plain = await h.post("/doubao/images/generations", { ...base, watermark: false });
    assert.deepEqual(await jpegSize(Buffer.from(marked.json.data[0].b64_json, "base64")), { format: "jpeg", width: 1024, height: 1024 });
    assert.notEqual(marked.json.data[0].b64_json, plain.json.data[0].b64_json);
  });
});

describe("SeedEdit 3.0", () => {
  test("a data URL input gets the adaptive size (1600x900 → 1312x736) and usage 3772", async () => {
    const image = dataUrl(await testImage(1600, 900));
    const body = { model: "doubao-seededit-3-0-i2i-250628", prompt: "改成爱心形状的泡泡", image, response_format: "url", size: "adaptive", seed: 21, guidance_scale: 5.5, watermark: true };
    const response = await h.post("/doubao/images/generations", body);
    assert.equal(response.status, 200);
    assert.deepEqual(response.json.usage, { generated_images: 1, output_tokens: 3772, total_tokens: 3772 });
    assert.deepEqual(await download(response.json.data[0].url), { format: "jpeg", width: 1312, height: 736 });
  });

  test("a gateway /files/ URL is read from storage, on /v1, as b64_json", async () => {
    const stored = await h.post("/doubao/images/generations", { ...SEEDREAM_EXAMPLE, size: "864x1152" });
    const response = await h.post("/v1/images/generations", {
      model: "doubao-seededit-3-0-i2i-250628", prompt: "make it night", image: stored.json.data[0].url, response_format: "b64_json",
    });
    assert.equal(response.status, 200);
    // 864/1152 = 0.75 → the 0.75 row, 864x1152.
    assert.deepEqual(await jpegSize(Buffer.from(response.json.data[0].b64_json, "base64")), { format: "jpeg", width: 864, height: 1152 });
    assert.deepEqual(response.json.usage, { generated_images: 1, output_tokens: 3888, total_tokens: 3888 });
  });

  test("a PNG input with an extreme but allowed ratio maps to the last row", async () => {
    const image = dataUrl(await testImage(299, 100, "png"), "png");
    const response = await h.post("/doubao/images/generations", { model: "doubao-seededit-3-0-i2i-250628", prompt: "wide", image, response_format: "b64_json" });
    assert.equal(response.status, 200);
    assert.deepEqual(await jpegSize(Buffer.from(response.json.data[0].b64_json, "base64")), { format: "jpeg", width: 1536, height: 512 });
  });
});

describe("/doubao/drawing", () => {
  test("the page example serves both the page's eight fields and the Volcengine envelope", async () => {
    const response = await h.post("/doubao/drawing", DRAWING_EXAMPLE);
    assert.equal(response.status, 200);
    assert.equal(response.headers["x-gateway-provider"], "emulator");
    const body = response.json;
    assert.deepEqual(Object.keys(body).sort(), [
      "code", "completed_at", "created_at", "data", "error", "id", "message", "model", "output", "request_id", "started_at", "status", "time_elapsed",
    ]);
    assert.equal(body.code, 10000);
    assert.equal(body.status, "succeeded");
    assert.equal(body.message, "Success");
    assert.equal(body.error, "");
    assert.equal(body.model, "general_v2.1_L");
    assert.equal(body.request_id, response.headers["x-request-id"]);
    assert.match(body.time_elapsed, /^\d+\.\d+s$/);
    for (const field of ["completed_at", "created_at", "started_at"]) assert.ok(!Number.isNaN(Date.parse(body[field])), field);
    assert.deepEqual(Object.keys(body.data).sort(), [
      "algorithm_base_resp", "binary_data_base64", "image_urls", "llm_result", "pe_result", "predict_tags_result", "rephraser_result", "request_id", "vlm_result",
    ]);
    assert.deepEqual(body.data.algorithm_base_resp, { status_code: 0, status_message: "Success" });
    assert.deepEqual(body.data.binary_data_base64, []);
    assert.equal(body.data.image_urls.length, 1);
    assert.equal(body.output, body.data.image_urls[0]);
    // use_sr doubles 512x512.
    assert.deepEqual(await download(body.output), { format: "jpeg", width: 1024, height: 1024 });
  });

  test("return_url false returns base64, use_sr false keeps the size, v2.0 goes to its own req_key", async () => {
    const response = await h.post("/doubao/drawing", { prompt: "山水", model_version: "general_v2.0", width: 680, height: 256, use_sr: false, return_url: false });
    assert.equal(response.status, 200);
    assert.deepEqual(response.json.data.image_urls, []);
    assert.equal(response.json.output, "");
    assert.equal(response.json.data.binary_data_base64.length, 1);
    assert.deepEqual(await jpegSize(Buffer.from(response.json.data.binary_data_base64[0], "base64")), { format: "jpeg", width: 680, height: 256 });
  });

  test("general_v2.0_L with defaults", async () => {
    const response = await h.post("/doubao/drawing", { prompt: "城市夜景", model_version: "general_v2.0_L" });
    assert.equal(response.status, 200);
    assert.deepEqual(await download(response.json.output), { format: "jpeg", width: 1024, height: 1024 });
  });
});

describe("/doubao/drawing/portrait", () => {
  test("the page example (with a data URL) returns the envelope and a 2048x2048 JPEG", async () => {
    const photo = dataUrl(await testImage(600, 800));
    const response = await h.post("/doubao/drawing/portrait?response_format=url", {
      image_input: photo, prompt: "长出满脸的胡子", width: 2048, height: 2048, gpen: 1, skin: 1, skin_unifi: 1, gen_mode: "creative", seed: "-1",
    });
    assert.equal(response.status, 200);
    const body = response.json;
    assert.deepEqual(Object.keys(body).sort(), ["code", "data", "message", "request_id", "status", "time_elapsed"]);
    assert.equal(body.code, 10000);
    assert.equal(body.status, 10000);
    assert.deepEqual(body.data.binary_data_base64, []);
    assert.deepEqual(await download(body.data.image_urls[0]), { format: "jpeg", width: 2048, height: 2048 });
  });

  test("b64_json with defaults (1328x1328) from a /files/ URL input", async () => {
    const stored = await h.post("/doubao/images/generations", { ...SEEDREAM_EXAMPLE, size: "768x1024" });
    const response = await h.post("/doubao/drawing/portrait?response_format=b64_json", { image_input: stored.json.data[0].url });
    assert.equal(response.status, 200);
    assert.deepEqual(response.json.data.image_urls, []);
    assert.deepEqual(await jpegSize(Buffer.from(response.json.data.binary_data_base64[0], "base64")), { format: "jpeg", width: 1328, height: 1328 });
  });
});

describe("models, health, openapi, files, keys", () => {
  test("/v1/models lists the twelve servable models with their table entries", async () => {
    const response = await h.get("/v1/models");
    assert.equal(response.status, 200);
    const body = response.json();
    assert.equal(body.object, "list");
    assert.deepEqual(body.data.map((model: { id: string }) => model.id), [
      "doubao-seedream-4-5-251128", "doubao-seedream-4-0-250828", "doubao-seedream-5-0-260128", "doubao-seedream-5-0-pro-260628", "doubao-seedream-5-0-flash-260915",
      "doubao-seedream-3-0-t2i-250415", "doubao-seededit-3-0-i2i-250628", "general_v2.1_L", "general_v2.0_L", "general_v2.0", "general_v3.0", "i2i_portrait_photo",
    ]);
    assert.deepEqual(Object.keys(body.data[0]), ["id", "object", "created", "owned_by", "kind", "aliases", "lifecycle", "capabilities", "price"]);
    assert.deepEqual(Object.keys(body.data[7]), ["id", "object", "created", "owned_by", "kind", "aliases", "lifecycle", "price", "unconfirmed"]);
  });

  test("/health and /openapi.json need no key; openapi carries the request schemas", async () => {
    assert.equal((await h.get("/health", {})).status, 200);
    const openapi = (await h.get("/openapi.json", {})).json();
    assert.equal(openapi.openapi, "3.1.0");
    assert.ok(openapi.paths["/doubao/drawing/portrait"].post);
    const seedream = openapi.components.schemas.SeedreamRequest;
    assert.deepEqual(seedream.required, ["model", "prompt"]);
    assert.deepEqual(seedream.properties.seed, { default: -1, type: "integer", minimum: -1, maximum: 2147483647 });
    assert.equal(openapi.components.schemas.DrawingRequest.properties.width.maximum, 768);
  });

  test("files expire after FILE_TTL_HOURS and the sweeper deletes them", async () => {
    let clock = Date.now();
    const local = await startHarness({ FILE_TTL_HOURS: "24" }, { now: () => clock });
    try {
      const created = await local.post("/doubao/images/generations", { ...SEEDREAM_EXAMPLE, size: "512x512" });
      const url = created.json.data[0].url as string;
      assert.equal((await local.get(url, {})).status, 200);
      clock += 24 * 3600 * 1000 - 60_000;
      assert.equal((await local.get(url, {})).status, 200);
      clock += 120_000;
      const gone = await local.get(url, {});
      assert.equal(gone.status, 404);
      assert.equal(gone.json().error.code, "NotFound");
      const second = await local.post("/doubao/images/generations", { ...SEEDREAM_EXAMPLE, size: "512x512" });
      clock += 25 * 3600 * 1000;
      assert.equal(await local.gateway.sweep(), 1);
      assert.equal((await local.get(second.json.data[0].url, {})).status, 404);
      assert.equal((await local.get(`${BASE}/files/20260101/AAAAAAAAAAAAAAAAAAAAAA.jpeg`, {})).status, 404);
      assert.equal((await local.get(`${BASE}/files/..%2F..%2Fgateway.db/x`, {})).status, 404);
    } finally {
      await local.close();
    }
  });

  test("RESULT_HOSTING=upstream passes the upstream's URL through", async () => {
    const local = await startHarness({ RESULT_HOSTING: "upstream" });
    try {
      const response = await local.post("/doubao/images/generations", SEEDREAM_EXAMPLE);
      assert.equal(response.status, 200);
      const url = new URL(response.json.data[0].url);
      assert.equal(url.hostname, "127.0.0.1");
      assert.match(url.pathname, /^\/results\/[0-9a-f]{32}-ept86400\.jpeg$/);
      const fetched = await fetch(url);
      assert.deepEqual(await jpegSize(Buffer.from(await fetched.arrayBuffer())), { format: "jpeg", width: 1024, height: 1024 });
      assert.deepEqual(response.json.usage, { generated_images: 1, output_tokens: 4096, total_tokens: 4096 });
    } finally {
      await local.close();
    }
  });

  test("a key created through the store works; the stored row holds a hash, not the key", async () => {
    const { secret, record } = (await h.gateway.keys.create({ name: "second" }));
    assert.match(secret, /^dg_[A-Za-z0-9_-]{40}$/);
    assert.equal(record.prefix, secret.slice(0, 12));
    assert.equal((await h.get("/v1/models", { authorization: `Bearer ${secret}` })).status, 200);
  });
});

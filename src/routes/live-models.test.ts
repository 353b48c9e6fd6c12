// The Seedream 4.x/5.x family over HTTP through the embedded emulator: validation from the model table,
// reference images, group generation with per-image failures, charging, and /v1/models.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import { dataUrl, jpegSize, startHarness, testImage, TEST_KEY, type Harness, type Json } from "../testing/harness.js";

const V40 = "doubao-seedream-4-0-250828";
const V45 = "doubao-seedream-4-5-251128";
const V50 = "doubao-seedream-5-0-260128";
const PRO = "doubao-seedream-5-0-pro-260628";
/** Makes the emulator refuse the request after the gateway accepted it: proves acceptance at no rendering cost. */
const UPSTREAM_REFUSES = "[[fault:ark:InvalidParameter]]";

let h: Harness;
let reference = "";
before(async () => {
  h = await startHarness();
  reference = dataUrl(await testImage(64, 48));
});
after(() => h.close());

const arkCalls = () => h.gateway.emulator?.stats.byApi.ark ?? 0;

const SIZE_RULE: Record<string, string> = {
  [V40]: '"1K", "2K", "4K", or "<W>x<H>" with W×H in [921600, 16777216] pixels and W/H in [1/16, 16]',
  [V45]: '"2K", "4K", or "<W>x<H>" with W×H in [3686400, 16777216] pixels and W/H in [1/16, 16]',
  [V50]: '"2K", "3K", "4K", or "<W>x<H>" with W×H at least 3686400 pixels and W/H in [1/16, 16]',
  [PRO]: '"1K", "1.5K", "2K", or "<W>x<H>" with W×H in [921600, 4624220] pixels and W/H in [1/16, 16]',
};

/** [model, extra fields, refused field, the rule and what was got] — every capability row of LIVE-MODELS.md §1.2 at its edge. */
const REFUSED: Array<[string, Record<string, unknown>, string, string]> = [
  [V40, { size: "1279x720" }, "size", `one of ${SIZE_RULE[V40]} (got "1279x720": 920880 pixels, W/H 1.776)`],
  [V40, { size: "4097x4096" }, "size", `one of ${SIZE_RULE[V40]} (got "4097x4096": 16781312 pixels, W/H 1.000)`],
  [V40, { size: "4097x256" }, "size", `one of ${SIZE_RULE[V40]} (got "4097x256": 1048832 pixels, W/H 16.004)`],
  [V40, { size: "3K" }, "size", `one of ${SIZE_RULE[V40]} (got "3K")`],
  [V45, { size: "1919x1920" }, "size", `one of ${SIZE_RULE[V45]} (got "1919x1920": 3684480 pixels, W/H 0.999)`],
  [V45, { size: "1K" }, "size", `one of ${SIZE_RULE[V45]} (got "1K")`],
  [V45, { size: "480x7681" }, "size", `one of ${SIZE_RULE[V45]} (got "480x7681": 3686880 pixels, W/H 0.062)`],
  [V50, { size: "1920x1919" }, "size", `one of ${SIZE_RULE[V50]} (got "1920x1919": 3684480 pixels, W/H 1.001)`],
  [PRO, { size: "959x960" }, "size", `one of ${SIZE_RULE[PRO]} (got "959x960": 920640 pixels, W/H 0.999)`],
  [PRO, { size: "2151x2150" }, "size", `one of ${SIZE_RULE[PRO]} (got "2151x2150": 4624650 pixels, W/H 1.000)`],
  [PRO, { size: "4K" }, "size", `one of ${SIZE_RULE[PRO]} (got "4K")`],
  [V45, { image: "15 references" }, "image", "at most 14 reference images (got 15)"],
  [V40, { image: "15 references" }, "image", "at most 14 reference images (got 15)"],
  [V50, { image: "15 references" }, "image", "at most 14 reference images (got 15)"],
  [PRO, { image: "11 references" }, "image", "at most 10 reference images (got 11)"],
  [PRO, { sequential_image_generation: "auto" }, "sequential_image_generation", 'only "disabled" (no group generation) (got "auto")'],
  [PRO, { stream: true }, "stream", "only false (no streaming) (got true)"],
  [V45, { optimize_prompt_options: { mode: "fast" } }, "optimize_prompt_options.mode", '"standard" (got "fast")'],
  [V50, { optimize_prompt_options: { mode: "fast" } }, "optimize_prompt_options.mode", '"standard" (got "fast")'],
  [V40, { output_format: "png" }, "output_format", '"jpeg" (got "png")'],
  [V45, { output_format: "png" }, "output_format", '"jpeg" (got "png")'],
  [PRO, { output_format: "webp" }, "output_format", '"jpeg", "png" (got "webp")'],
  [V40, { tools: [{ type: "web_search" }] }, "tools", 'tool types none (got "web_search")'],
  [PRO, { tools: [{ type: "web_search" }] }, "tools", 'tool types none (got "web_search")'],
  [V40, { image: "2 references", sequential_image_generation: "auto", sequential_image_generation_options: { max_images: 14 } },
    "sequential_image_generation_options.max_images", "at most 13 images with 2 reference images (references and generated images together ≤ 15) (got 14)"],
];

/** The same rows one step inside the edge: accepted by the gateway and sent upstream. */
const ACCEPTED: Array<[string, Record<string, unknown>]> = [
  [V40, { size: "1280x720" }], [V40, { size: "4096x4096" }], [V40, { size: "4096x256" }], [V40, { size: "256x4096" }], [V40, { size: "1K" }],
  [V45, { size: "1920x1920" }], [V45, { size: "480x7680" }], [V45, { size: "4K" }], [V50, { size: "1920x1920" }], [V50, { size: "3K" }],
  [PRO, { size: "960x960" }], [PRO, { size: "2150x2150" }], [PRO, { size: "1.5K" }],
  [V45, { image: "14 references" }], [V40, { image: "14 references" }], [V50, { image: "14 references" }], [PRO, { image: "10 references" }],
  [V40, { sequential_image_generation: "auto" }], [V45, { stream: false }], [V40, { optimize_prompt_options: { mode: "fast" } }],
  [PRO, { optimize_prompt_options: { mode: "fast" } }], [V50, { output_format: "png" }], [PRO, { output_format: "png" }],
  [V50, { tools: [{ type: "web_search" }] }],
  [V40, { image: "2 references", sequential_image_generation: "auto", sequential_image_generation_options: { max_images: 13 } }],
];

/** `image: "N references"` stands for an array of N reference images. */
const withImages = (fields: Record<string, unknown>) => {
  const count = typeof fields.image === "string" ? Number(/^(\d+) references$/.exec(fields.image)?.[1]) : Number.NaN;
  return Number.isNaN(count) ? fields : { ...fields, image: Array.from({ length: count }, () => reference) };
};

describe("capabilities from the model table, refused before any upstream call", () => {
  for (const [model, fields, param, rule] of REFUSED) {
    test(`${model} ${JSON.stringify(fields)} → 400 ${param}`, async () => {
      const calls = arkCalls();
      const response = await h.post("/doubao/images/generations", { model, prompt: "a harbour at dawn", ...withImages(fields) });
      assert.equal(response.status, 400);
      assert.deepEqual(response.json.error, {
        code: "InvalidParameter", message: `Invalid parameter \`${param}\`: ${model} accepts ${rule}.`, message_cn: response.json.error.message_cn,
        param, type: "invalid_request_error", err_code: -10003,
      });
      assert.ok(response.json.error.message_cn.startsWith(`参数 \`${param}\` 无效：${model} 支持 `));
      assert.equal(arkCalls(), calls, "no upstream call");
    });
  }
  for (const [model, fields] of ACCEPTED) {
    test(`${model} ${JSON.stringify(fields)} → accepted and sent upstream`, async () => {
      const calls = arkCalls();
      const response = await h.post("/doubao/images/generations", { model, prompt: `edge ${UPSTREAM_REFUSES}`, ...withImages(fields) });
      assert.equal(arkCalls(), calls + 1, "one upstream call");
      assert.equal(response.status, 400);
      assert.match(response.json.error.message, /^The upstream \(Ark\) rejected the request \(InvalidParameter: /);
    });
  }

  test("n > 1 with group generation, and a reference image of the wrong shape, are refused on /v1", async () => {
    const calls = arkCalls();
    const group = await h.post("/v1/images/generations", { model: V40, prompt: "x", n: 2, sequential_image_generation: "auto" });
    assert.equal(group.status, 400);
    assert.equal(group.json.error.message, 'Invalid parameter `n`: n > 1 cannot be combined with sequential_image_generation "auto"; use sequential_image_generation_options.max_images for a group.');
    const thin = dataUrl(await testImage(340, 20, "png"), "png");
    const ratio = await h.post("/v1/images/generations", { model: V40, prompt: "x", image: [reference, thin] });
    assert.equal(ratio.status, 400);
    assert.equal(ratio.json.error.param, "image.1");
    assert.equal(ratio.json.error.message, "Invalid parameter `image.1`: the image is 340x20 px (width/height 17.000); width/height must be in [1/16, 16].");
    const bmp = await h.post("/v1/images/generations", { model: V40, prompt: "x", image: `data:image/bmp;base64,${Buffer.from("BM0000").toString("base64")}` });
    assert.equal(bmp.status, 400);
    assert.equal(bmp.json.error.message, 'Invalid parameter `image`: the data URL\'s media type is "image/bmp"; it must be image/png, image/jpeg, image/webp, image/gif or image/tiff.');
    assert.equal(arkCalls(), calls);
  });

  test("each reference image goes through the SSRF-safe fetcher: an address inside the network is refused, naming the element", async () => {
    const calls = arkCalls();
    const response = await h.post("/doubao/images/generations", { model: V45, prompt: "x", image: [reference, "http://169.254.169.254/latest/meta-data/x.png"] });
    assert.equal(response.status, 400);
    assert.equal(response.json.error.param, "image.1");
    assert.equal(response.json.error.message, "Invalid parameter `image.1`: the image URL's host 169.254.169.254 points to a non-public address (169.254.169.254); the gateway only fetches public addresses.");
    assert.equal(arkCalls(), calls);
    assert.equal((await h.gateway.accounts.ledger.get(response.json.request_id)), undefined, "refused before admission: not recorded");
  });
});

describe("answers", () => {
  test("a reference image, a keyword size and seed/guidance_scale from a 3.0 client: per-item size, usage from upstream, x-gateway-ignored", async () => {
    const webp = await testImage(300, 200, "png");
    const response = await h.post("/doubao/images/generations", {
      model: "seedream-4", prompt: "the same scene at night", image: dataUrl(webp, "png"), size: "1K", seed: 7, guidance_scale: 3, watermark: false, response_format: "b64_json",
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers["x-gateway-ignored"], "seed, guidance_scale");
    assert.deepEqual(Object.keys(response.json), ["model", "created", "data", "usage"]);
    assert.equal(response.json.model, V40);
    assert.deepEqual(Object.keys(response.json.data[0]), ["b64_json", "size"]);
    assert.equal(response.json.data[0].size, "1024x1024");
    assert.deepEqual(await jpegSize(Buffer.from(response.json.data[0].b64_json, "base64")), { format: "jpeg", width: 1024, height: 1024 });
    assert.deepEqual(response.json.usage, { generated_images: 1, output_tokens: 4096, total_tokens: 4096 });
  });

  test("5.0: png stays PNG, output_format per item, usage.input_images and tool_usage as upstream sends them", async () => {
    const response = await h.post("/v1/images/generations", {
      model: "doubao-seedream-5-0-lite-260128", prompt: "a chart of the tides", size: "1920x1920", output_format: "png", tools: [{ type: "web_search" }],
      image: [reference, reference], watermark: false,
    });
    assert.equal(response.status, 200);
    assert.equal(response.json.model, V50);
    assert.deepEqual(Object.keys(response.json.data[0]), ["url", "size", "output_format"]);
    assert.match(response.json.data[0].url, /\/files\/\d{8}\/[A-Za-z0-9_-]{22}\.png$/);
    assert.equal(response.json.data[0].output_format, "png");
    const file = await h.get(response.json.data[0].url, {});
    assert.equal(file.headers["content-type"], "image/png");
    assert.deepEqual(await jpegSize(file.body), { format: "png", width: 1920, height: 1920 });
    assert.deepEqual(response.json.usage, { generated_images: 1, output_tokens: 14400, total_tokens: 14400, input_images: 2, tool_usage: { web_search: 1 } });
  });

  test("n on /v1 is exactly n single-image calls; usage summed", async () => {
    const calls = arkCalls();
    const response = await h.post("/v1/images/generations", { model: PRO, prompt: "three lanterns", size: "960x960", n: 3, response_format: "b64_json" });
    assert.equal(response.status, 200);
    assert.equal(arkCalls(), calls + 3);
    assert.equal(response.json.data.length, 3);
    assert.deepEqual(response.json.usage, { generated_images: 3, output_tokens: 10800, total_tokens: 10800, input_images: 0 });
  });

  test("a group of 4 with image 2 refused by moderation: 3 images and the error at index 1; charged 3 while 4 were held", async () => {
    const { record, secret } = (await h.gateway.keys.create({ name: "group", totalImages: 5 }));
    const auth = { authorization: `Bearer ${secret}` };
    const group = h.post("/doubao/images/generations", {
      model: V40, prompt: "four seasons [[refuse-image:2]] [[fault:slow:1500]]", size: "1280x720", sequential_image_generation: "auto",
      sequential_image_generation_options: { max_images: 4 }, watermark: false,
    }, auth);
    // While the group runs it holds 4 of the key's 5 images: a request for 2 more does not fit.
    let second: Awaited<ReturnType<Harness["post"]>> | undefined;
    for (let attempt = 0; attempt < 100 && second?.status !== 429; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      if ((await h.gateway.accounts.ledger.interrupted()).length > 0) second = await h.post("/v1/images/generations", { model: V40, prompt: "x", n: 2, size: "1280x720" }, auth);
    }
    assert.equal(second?.status, 429);
    assert.equal(second?.json.error.message, "This API key's total image quota is 5: 0 used, 4 held by requests in flight, so this request (2 images) does not fit; 1 left.");
    const response = await group;
    assert.equal(response.status, 200);
    assert.equal(response.json.data.length, 4);
    assert.deepEqual(response.json.data[1], { error: { code: "OutputImageSensitiveContentDetected", message: "The request failed because the output image may contain sensitive information." } });
    for (const index of [0, 2, 3]) {
      assert.deepEqual(Object.keys(response.json.data[index]), ["url", "size"]);
      assert.deepEqual(await jpegSize((await h.get(response.json.data[index].url, {})).body), { format: "jpeg", width: 1280, height: 720 });
    }
    assert.deepEqual(response.json.usage, { generated_images: 3, output_tokens: 10800, total_tokens: 10800 });
    const row = (await h.gateway.accounts.ledger.get(response.headers["x-request-id"] as string)) as Json;
    assert.deepEqual(
      { reserved: row.reserved_images, images: row.images, charged: row.charged, cost: row.cost_micros, model: row.model, served: row.served_model, error: row.error_code },
      { reserved: 4, images: 3, charged: 1, cost: 600000, model: V40, served: V40, error: "PartialFailure" },
    );
    assert.equal(record.totalImages, 5);
  });
});

describe("/v1/models", () => {
  test("each model with its capabilities and lifecycle; /v1/models/{id} answers one, by id or alias", async () => {
    const one = await h.get("/v1/models/seedream-4.5");
    assert.equal(one.status, 200);
    assert.deepEqual(one.json(), {
      id: V45, object: "model", created: 1764288000, owned_by: "emulator", kind: "seedream-4", aliases: ["seedream-4.5", "seedream-4-5", "seedream-4-5-251128"], lifecycle: { state: "live" },
      capabilities: {
        sizes: { keywords: ["2K", "4K"], min_pixels: 3686400, max_pixels: 16777216, min_ratio: 0.0625, max_ratio: 16, default: "2048x2048" },
        max_reference_images: 14, group_generation: true, max_group_images: 15, stream: true, optimize_prompt_modes: ["standard"], optimize_prompt_thinking: [], output_formats: ["jpeg"], tools: [],
      },
      price: { per_image: 0.25, currency: "CNY" },
    });
    const missing = await h.get("/v1/models/dall-e-3");
    assert.equal(missing.status, 404);
    assert.equal(missing.json().error.message, "No model dall-e-3 in this gateway's table; GET /v1/models lists those it serves.");
  });

  test("the openai SDK's models.retrieve and models.list", async () => {
    const client = new OpenAI({ apiKey: TEST_KEY, baseURL: "http://gateway.test/v1", fetch: injectFetch });
    const model = await client.models.retrieve(PRO);
    assert.equal(model.id, PRO);
    assert.equal((model as unknown as Json).capabilities.group_generation, false);
    const ids: string[] = [];
    for await (const entry of client.models.list()) ids.push(entry.id);
    assert.ok(ids.includes(V50));
  });
});

/** fetch over app.inject, for the openai SDK. */
async function injectFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const url = new URL(String(input instanceof Request ? input.url : input));
  const response = await h.gateway.app.inject({
    method: (init?.method ?? "GET") as "GET",
    url: `${url.pathname}${url.search}`,
    headers: Object.fromEntries(new Headers(init?.headers).entries()),
    ...(init?.body ? { payload: init.body as string } : {}),
  });
  return new Response(response.rawPayload, { status: response.statusCode, headers: response.headers as Record<string, string> });
}

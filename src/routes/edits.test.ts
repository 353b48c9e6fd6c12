// The openai npm SDK, unchanged, against the gateway on loopback: images.generate (n: 2, both formats) and images.edit.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI, { toFile } from "openai";
import { jpegSize, startHarness, TEST_KEY, testImage, type Harness } from "../testing/harness.js";

let h: Harness;
let client: OpenAI;
before(async () => {
  h = await startHarness();
  const address = await h.gateway.app.listen({ port: 0, host: "127.0.0.1" });
  client = new OpenAI({ apiKey: TEST_KEY, baseURL: `${address}/v1`, maxRetries: 0 });
});
after(() => h.close());

test("images.generate with n: 2 as b64_json and as url", async () => {
  const b64 = await client.images.generate({ model: "doubao-seedream-3-0-t2i-250415", prompt: "a red fox", n: 2, size: "1024x1024", response_format: "b64_json" });
  assert.equal(b64.data?.length, 2);
  assert.deepEqual(await jpegSize(Buffer.from(b64.data?.[0]?.b64_json ?? "", "base64")), { format: "jpeg", width: 1024, height: 1024 });
  assert.notEqual(b64.data?.[0]?.b64_json, b64.data?.[1]?.b64_json);
  assert.deepEqual(b64.usage, { generated_images: 2, output_tokens: 8192, total_tokens: 8192 } as unknown as typeof b64.usage);
  const urls = await client.images.generate({ model: "doubao-seedream-3-0-t2i-250415", prompt: "a red fox", n: 2, size: "1024x1024", response_format: "url" });
  assert.equal(urls.data?.length, 2);
  for (const item of urls.data ?? []) assert.match(item.url ?? "", /^http:\/\/gateway\.test\/files\/\d{8}\/[A-Za-z0-9_-]{22}\.jpeg$/);
});

test("images.edit maps to SeedEdit with the adaptive size", async () => {
  const image = await toFile(await testImage(1600, 900, "png"), "photo.png", { type: "image/png" });
  const result = await client.images.edit({ model: "doubao-seededit-3-0-i2i-250628", image, prompt: "make it snow", response_format: "b64_json", n: 2 });
  assert.equal(result.data?.length, 2);
  assert.deepEqual(await jpegSize(Buffer.from(result.data?.[0]?.b64_json ?? "", "base64")), { format: "jpeg", width: 1312, height: 736 });
  const byUrl = await client.images.edit({ image: await toFile(await testImage(64, 64), "a.jpg", { type: "image/jpeg" }), prompt: "x" });
  assert.match(byUrl.data?.[0]?.url ?? "", /^http:\/\/gateway\.test\/files\//);
});

test("images.edit with a size other than adaptive is a 400 that says so", async () => {
  const image = await toFile(await testImage(64, 64), "a.jpg", { type: "image/jpeg" });
  await assert.rejects(client.images.edit({ image, prompt: "x", size: "1024x1024" }), (error: InstanceType<typeof OpenAI.APIError>) => {
    assert.equal(error.status, 400);
    const body = error.error as { message: string; param: string; err_code: number };
    assert.equal(body.param, "size");
    assert.equal(body.message, 'Invalid parameter `size`: must be "adaptive": doubao-seededit-3-0-i2i-250628 picks the output size from the input image\'s ratio (got "1024x1024").');
    assert.equal(body.err_code, -10003);
    return true;
  });
});

test("edits without an image, or with a JSON body, say what to send", async () => {
  const form = new FormData();
  form.set("prompt", "x");
  const missing = await fetch(`${client.baseURL}/images/edits`, { method: "POST", headers: { authorization: `Bearer ${TEST_KEY}` }, body: form });
  assert.equal(missing.status, 400);
  assert.equal(((await missing.json()) as { error: { message: string } }).error.message, "Missing required parameter `image`: attach the image file as the multipart field `image`.");
  const json = await fetch(`${client.baseURL}/images/edits`, { method: "POST", headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" }, body: "{}" });
  assert.equal(json.status, 415);
});

test("images.edit with several files for a Seedream 4.x model: they are its reference images; too many is a 400 naming the model's limit", async () => {
  const stats = h.gateway.emulator?.stats;
  const references = stats?.referenceImages ?? 0;
  const files = await Promise.all([testImage(300, 200), testImage(200, 300, "png"), testImage(64, 64)].map(async (bytes, index) =>
    toFile(await bytes, `ref${index}.${index === 1 ? "png" : "jpg"}`, { type: index === 1 ? "image/png" : "image/jpeg" })));
  const result = await client.images.edit({ model: "doubao-seedream-4-0-250828", image: files, prompt: "all three in one room", size: "1280x720" as "1024x1024", response_format: "b64_json" });
  assert.equal(stats?.referenceImages, references + 3);
  assert.equal(result.data?.length, 1);
  assert.equal((result.data?.[0] as { size?: string }).size, "1280x720");
  assert.deepEqual(await jpegSize(Buffer.from(result.data?.[0]?.b64_json ?? "", "base64")), { format: "jpeg", width: 1280, height: 720 });
  const many = await Promise.all(Array.from({ length: 11 }, async (_, index) => toFile(await testImage(64, 64), `r${index}.jpg`, { type: "image/jpeg" })));
  await assert.rejects(client.images.edit({ model: "doubao-seedream-5-0-pro-260628", image: many, prompt: "x" }), (error: InstanceType<typeof OpenAI.APIError>) => {
    assert.equal(error.status, 400);
    assert.equal((error.error as { message: string }).message, "Invalid parameter `image`: doubao-seedream-5-0-pro-260628 accepts at most 10 reference images (got 11).");
    return true;
  });
  assert.equal(stats?.referenceImages, references + 3);
});

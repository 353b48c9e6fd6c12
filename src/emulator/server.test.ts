// The emulator as a standalone server on loopback: signature checks, and validation like the real services.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { formatXDate, sha256Hex, sign } from "../providers/visual/sign.js";
import { jpegSize, type Json } from "../testing/harness.js";
import { createEmulator, type Emulator } from "./server.js";

const credentials = { arkApiKey: "ark-test-key", accessKeyId: "AKTESTEMULATOR", secretAccessKey: "test-secret" };
let emulator: Emulator;
let base = "";
before(async () => {
  emulator = createEmulator(credentials);
  base = await emulator.listen(0, "127.0.0.1");
});
after(() => emulator.close());

const CV = `/?Action=CVProcess&Version=2022-08-31`;
const readJson = (response: Response): Promise<Json> => response.json();

function signedHeaders(body: string, options: { secret?: string; accessKeyId?: string; date?: Date } = {}) {
  const host = new URL(base).host;
  const payloadHash = sha256Hex(body);
  const headers = { "content-type": "application/json", host, "x-date": formatXDate(options.date ?? new Date()), "x-content-sha256": payloadHash };
  const { authorization } = sign({
    method: "POST", path: "/", query: { Action: "CVProcess", Version: "2022-08-31" }, headers, payloadHash,
    accessKeyId: options.accessKeyId ?? credentials.accessKeyId, secretAccessKey: options.secret ?? credentials.secretAccessKey, region: "cn-north-1", service: "cv",
  });
  const { host: _host, ...rest } = headers;
  return { ...rest, authorization };
}

const drawing = JSON.stringify({ req_key: "high_aes_general_v21_L", prompt: "test", width: 256, height: 256, use_sr: true, return_url: false });

test("a correctly signed CVProcess call succeeds with the Volcengine envelope", async () => {
  const response = await fetch(`${base}${CV}`, { method: "POST", headers: signedHeaders(drawing), body: drawing });
  assert.equal(response.status, 200);
  const body = await readJson(response);
  assert.equal(body.code, 10000);
  assert.equal(body.status, 10000);
  assert.equal(body.message, "Success");
  assert.match(body.time_elapsed, /^\d+\.\d+s$/);
  assert.deepEqual(body.data.algorithm_base_resp, { status_code: 0, status_message: "Success" });
  assert.deepEqual(await jpegSize(Buffer.from(body.data.binary_data_base64[0], "base64")), { format: "jpeg", width: 512, height: 512 });
});

test("a body changed after signing is rejected with SignatureDoesNotMatch", async () => {
  const headers = signedHeaders(drawing);
  const tampered = drawing.replace('"test"', '"tesT"');
  const response = await fetch(`${base}${CV}`, { method: "POST", headers, body: tampered });
  assert.equal(response.status, 401);
  const body = await readJson(response);
  assert.equal(body.ResponseMetadata.Error.CodeN, 100010);
  assert.equal(body.ResponseMetadata.Error.Code, "SignatureDoesNotMatch");
  // Also when the client recomputes X-Content-Sha256 but keeps the old signature.
  const rehashed = await fetch(`${base}${CV}`, { method: "POST", headers: { ...headers, "x-content-sha256": sha256Hex(tampered) }, body: tampered });
  assert.equal(rehashed.status, 401);
  assert.equal((await readJson(rehashed)).ResponseMetadata.Error.Code, "SignatureDoesNotMatch");
});

test("a wrong secret, an unknown access key, a stale date and a missing header each get their gateway error", async () => {
  const wrongSecret = await fetch(`${base}${CV}`, { method: "POST", headers: signedHeaders(drawing, { secret: "nope" }), body: drawing });
  assert.equal(wrongSecret.status, 401);
  assert.equal((await readJson(wrongSecret)).ResponseMetadata.Error.Code, "SignatureDoesNotMatch");
  const unknownKey = await fetch(`${base}${CV}`, { method: "POST", headers: signedHeaders(drawing, { accessKeyId: "AKOTHER" }), body: drawing });
  assert.equal(unknownKey.status, 401);
  assert.equal((await readJson(unknownKey)).ResponseMetadata.Error.Code, "InvalidAccessKey");
  const stale = await fetch(`${base}${CV}`, { method: "POST", headers: signedHeaders(drawing, { date: new Date(Date.now() - 16 * 60_000) }), body: drawing });
  assert.equal(stale.status, 400);
  assert.equal((await readJson(stale)).ResponseMetadata.Error.Code, "InvalidTimestamp");
  const unsigned = await fetch(`${base}${CV}`, { method: "POST", headers: { "content-type": "application/json" }, body: drawing });
  assert.equal(unsigned.status, 400);
  assert.equal((await readJson(unsigned)).ResponseMetadata.Error.Code, "InvalidAuthorization");
  const wrongAction = await fetch(`${base}/?Action=CVSubmit&Version=2022-08-31`, { method: "POST", headers: signedHeaders(drawing), body: drawing });
  assert.equal(wrongAction.status, 404);
  assert.equal((await readJson(wrongAction)).ResponseMetadata.Error.Code, "InvalidActionOrVersion");
});

test("Visual business validation answers 50200 with the field", async () => {
  const body = JSON.stringify({ req_key: "high_aes_general_v20", model_version: "general_v2.0", prompt: "x", width: 700 });
  const response = await fetch(`${base}${CV}`, { method: "POST", headers: signedHeaders(body), body });
  assert.equal(response.status, 400);
  const json = await readJson(response);
  assert.equal(json.code, 50200);
  assert.equal(json.status, 50200);
  assert.equal(json.message, "Request Invalid Args: width");
  assert.equal(json.data, null);
});

test("Ark checks the Bearer key and validates fields like the real service", async () => {
  const post = (body: unknown, key = credentials.arkApiKey) =>
    fetch(`${base}/api/v3/images/generations`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  const unauthorized = await post({ model: "doubao-seedream-3-0-t2i-250415", prompt: "x" }, "wrong");
  assert.equal(unauthorized.status, 401);
  assert.equal((await readJson(unauthorized)).error.code, "AuthenticationError");
  const badSize = await post({ model: "doubao-seedream-3-0-t2i-250415", prompt: "x", size: "100x100" });
  assert.equal(badSize.status, 400);
  const badSizeBody = await readJson(badSize);
  assert.equal(badSizeBody.error.code, "InvalidParameter");
  assert.equal(badSizeBody.error.param, "size");
  assert.equal(badSizeBody.error.type, "BadRequest");
  assert.match(badSizeBody.error.message, /Request id: \d+[0-9A-F]+$/);
  const unknownModel = await post({ model: "doubao-seedream-9", prompt: "x" });
  assert.equal(unknownModel.status, 404);
  assert.equal((await readJson(unknownModel)).error.code, "InvalidEndpointOrModel.NotFound");
  const upperCase = await post({ model: "doubao-seededit-3-0-i2i-250628", prompt: "x", image: "data:image/PNG;base64,AAAA" });
  assert.equal(upperCase.status, 400);
  assert.equal((await readJson(upperCase)).error.param, "image");
  const ok = await post({ model: "doubao-seedream-3-0-t2i-250415", prompt: "x", size: "640x512", response_format: "url", watermark: false });
  assert.equal(ok.status, 200);
  const okBody = await readJson(ok);
  assert.deepEqual(okBody.usage, { generated_images: 1, output_tokens: 1280, total_tokens: 1280 });
  const image = await fetch(okBody.data[0].url);
  assert.deepEqual(await jpegSize(Buffer.from(await image.arrayBuffer())), { format: "jpeg", width: 640, height: 512 });
  assert.ok(emulator.stats.imagesGenerated >= 2);
});

test("faults: a marker fails only its first N requests; a queued fault is validated, limited to its API, and can be cleared", async () => {
  const emulator = createEmulator({ arkApiKey: "k", accessKeyId: "AK", secretAccessKey: "SK" });
  const base = await emulator.listen(0, "127.0.0.1");
  try {
    const ark = (prompt: string) =>
      fetch(`${base}/api/v3/images/generations`, {
        method: "POST", headers: { authorization: "Bearer k", "content-type": "application/json" },
        body: JSON.stringify({ model: "doubao-seedream-3-0-t2i-250415", prompt, size: "512x512", response_format: "b64_json" }),
      });
    const first = await ark("p [[fault:ark:ServerOverloaded*1,retry-after=7]]");
    assert.equal(first.status, 429);
    assert.equal(first.headers.get("retry-after"), "7");
    const body = (await first.json()) as { error: { code: string; message: string; type: string } };
    assert.equal(body.error.code, "ServerOverloaded");
    assert.equal(body.error.type, "TooManyRequests");
    assert.match(body.error.message, /^The service is currently overloaded; please try again later\. Request id: \w+$/);
    assert.equal((await ark("p [[fault:ark:ServerOverloaded*1,retry-after=7]]")).status, 200);

    const queue = (fault: unknown) => fetch(`${base}/_emulator/faults`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(fault) });
    const bad = await queue({ fault: "ark:NoSuchCode" });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /^unknown Ark error code "NoSuchCode"; one of MissingParameter, /);
    assert.equal((await queue({ fault: "teleport" })).status, 400);
    assert.equal((await queue({ fault: "http:503", times: 0 })).status, 400);
    assert.equal((await queue({ fault: "http:503", times: 2, api: "visual" })).status, 201);
    assert.equal((await ark("p")).status, 200, "a fault queued for Visual does not touch Ark");
    assert.equal((await fetch(`${base}/_emulator/faults`, { method: "DELETE" })).status, 204);
    assert.equal((await queue({ fault: "http:503", api: "ark" })).status, 201);
    const page = await ark("p");
    assert.equal(page.status, 503);
    assert.match(await page.text(), /^<html><head><title>503 Service Temporarily Unavailable<\/title>/);
    const stats = (await (await fetch(`${base}/_emulator/stats`)).json()) as { faultsInjected: number; byApi: Record<string, number> };
    assert.equal(stats.faultsInjected, 2);
    assert.equal(stats.byApi.ark, 4);
  } finally {
    await emulator.close();
  }
});

// The S3 driver against an S3-compatible server (s3rver) on loopback, with the same suite as the fs driver.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { storageConformance } from "../testing/storage-conformance.js";
import { S3RVER_CREDENTIALS, startTestS3 } from "../testing/s3.js";
import { createS3Storage, parseStorageUrl } from "./s3.js";
import { jpegSize, startHarness } from "../testing/harness.js";

storageConformance("s3 (s3rver on loopback, path-style, prefix)", async () => {
  const s3 = await startTestS3();
  const storage = await createS3Storage({ bucket: "results", prefix: "doubao", endpoint: s3.endpoint, region: "us-east-1", credentials: S3RVER_CREDENTIALS });
  return { storage, close: () => s3.close() };
});

test("a presigned URL of the bucket answers the blob (signed for the asked time)", async () => {
  const s3 = await startTestS3();
  try {
    const storage = await createS3Storage({ bucket: "results", prefix: "signed", endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS });
    const key = await storage.put(Buffer.from("signed bytes"), "jpeg");
    const url = new URL(await (storage.signedUrl as NonNullable<typeof storage.signedUrl>)(key, 600));
    assert.equal(url.origin, s3.endpoint);
    assert.equal(url.pathname, `/results/signed/${key}`);
    assert.equal(url.searchParams.get("X-Amz-Expires"), "600");
    const answer = await fetch(url);
    assert.equal(answer.status, 200);
    assert.equal(Buffer.from(await answer.arrayBuffer()).toString(), "signed bytes");
    // s3rver does not check query signatures, so a forged or expired one cannot be shown refused here.
    assert.match(url.searchParams.get("X-Amz-Signature") ?? "", /^[0-9a-f]{64}$/);
  } finally {
    await s3.close();
  }
});

test("FILE_SERVING=presigned: /files answers 302 to the bucket's presigned URL, which serves the bytes; an unknown file is 404", async () => {
  const s3 = await startTestS3();
  const h = await startHarness({ ...s3.environment("gateway-p"), FILE_SERVING: "presigned" });
  try {
    const answer = await h.post("/doubao/images/generations", { model: "doubao-seedream-4-0-250828", prompt: "signed", size: "1280x720", watermark: false });
    const path = new URL(answer.json.data[0].url as string).pathname;
    const redirect = await h.get(path, {});
    assert.equal(redirect.status, 302);
    const location = new URL(redirect.headers.location as string);
    assert.equal(location.origin, s3.endpoint);
    assert.equal(location.searchParams.get("X-Amz-Expires"), "3600");
    assert.equal(redirect.headers["cache-control"], "private, max-age=3540");
    const bytes = Buffer.from(await (await fetch(location)).arrayBuffer());
    assert.deepEqual(await jpegSize(bytes), { format: "jpeg", width: 1280, height: 720 });
    const missing = await h.get(path.replace(/\/[^/]+$/, "/AAAAAAAAAAAAAAAAAAAAAA.jpeg"), {});
    assert.equal(missing.status, 404);
  } finally {
    await h.close();
    await s3.close();
  }
});

test("STORAGE_URL s3://bucket/prefix", () => {
  assert.deepEqual(parseStorageUrl("s3://my-results/doubao/gw/"), { bucket: "my-results", prefix: "doubao/gw/" });
  assert.deepEqual(parseStorageUrl("s3://my-results"), { bucket: "my-results", prefix: "" });
  assert.equal(parseStorageUrl("s3://B/x"), undefined);
  assert.equal(parseStorageUrl("file:///data"), undefined);
});

test("a gateway with STORAGE_URL stores its results in the bucket and serves them at /files (Range too)", async () => {
  const s3 = await startTestS3();
  const h = await startHarness(s3.environment("gateway-a"));
  try {
    const answer = await h.post("/doubao/images/generations", { model: "doubao-seedream-4-0-250828", prompt: "a bucket", size: "1280x720", watermark: false });
    assert.equal(answer.status, 200);
    const key = (answer.json.data[0].url as string).split("/files/")[1] as string;
    const direct = await createS3Storage({ bucket: "results", prefix: "gateway-a", endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS });
    const stored = await direct.get(key);
    assert.ok(stored, "the object is in the bucket under the prefix");
    const served = await h.get(`/files/${key}`, {});
    assert.equal(served.status, 200);
    assert.deepEqual(served.body, stored.bytes);
    assert.deepEqual(await jpegSize(served.body), { format: "jpeg", width: 1280, height: 720 });
    const part = await h.get(`/files/${key}`, { range: "bytes=0-9" });
    assert.equal(part.status, 206);
    assert.deepEqual(part.body, stored.bytes.subarray(0, 10));
    assert.equal(existsSync(join(h.dataDir, "files")), false, "nothing on the local disk");
  } finally {
    await h.close();
    await s3.close();
  }
});

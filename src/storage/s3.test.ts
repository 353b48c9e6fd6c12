// The S3 driver against an S3-compatible server (s3rver) on loopback, with the same suite as the fs driver.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import S3rver from "s3rver";
import { storageConformance } from "../testing/storage-conformance.js";
import { createS3Storage, parseStorageUrl } from "./s3.js";
import { jpegSize, startHarness } from "../testing/harness.js";

storageConformance("s3 (s3rver on loopback, path-style, prefix)", async () => {
  const directory = mkdtempSync(join(tmpdir(), "doubao-storage-s3-"));
  const server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory, configureBuckets: [{ name: "results" }] });
  const { port } = await server.run();
  const storage = await createS3Storage({
    bucket: "results", prefix: "doubao", endpoint: `http://127.0.0.1:${port}`, region: "us-east-1", credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
  });
  return {
    storage,
    close: async () => {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
});

test("a presigned URL of the bucket answers the blob (signed for the asked time)", async () => {
  const directory = mkdtempSync(join(tmpdir(), "doubao-storage-s3-sign-"));
  const server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory, configureBuckets: [{ name: "results" }] });
  const { port } = await server.run();
  try {
    const storage = await createS3Storage({ bucket: "results", prefix: "signed", endpoint: `http://127.0.0.1:${port}`, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
    const key = await storage.put(Buffer.from("signed bytes"), "jpeg");
    const url = new URL(await (storage.signedUrl as NonNullable<typeof storage.signedUrl>)(key, 600));
    assert.equal(url.origin, `http://127.0.0.1:${port}`);
    assert.equal(url.pathname, `/results/signed/${key}`);
    assert.equal(url.searchParams.get("X-Amz-Expires"), "600");
    const answer = await fetch(url);
    assert.equal(answer.status, 200);
    assert.equal(Buffer.from(await answer.arrayBuffer()).toString(), "signed bytes");
    // s3rver does not check query signatures, so a forged or expired one cannot be shown refused here.
    assert.match(url.searchParams.get("X-Amz-Signature") ?? "", /^[0-9a-f]{64}$/);
  } finally {
    await server.close();
    rmSync(directory, { recursive: true, force: true });
  }
});

test("FILE_SERVING=presigned: /files answers 302 to the bucket's presigned URL, which serves the bytes; an unknown file is 404", async () => {
  const directory = mkdtempSync(join(tmpdir(), "doubao-storage-s3-presigned-gw-"));
  const server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory, configureBuckets: [{ name: "results" }] });
  const { port } = await server.run();
  const h = await startHarness({
    STORAGE_URL: "s3://results/gateway-p", S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_ACCESS_KEY_ID: "S3RVER", S3_SECRET_ACCESS_KEY: "S3RVER", FILE_SERVING: "presigned",
  });
  try {
    const answer = await h.post("/doubao/images/generations", { model: "doubao-seedream-4-0-250828", prompt: "signed", size: "1280x720", watermark: false });
    const path = new URL(answer.json.data[0].url as string).pathname;
    const redirect = await h.get(path, {});
    assert.equal(redirect.status, 302);
    const location = new URL(redirect.headers.location as string);
    assert.equal(location.origin, `http://127.0.0.1:${port}`);
    assert.equal(location.searchParams.get("X-Amz-Expires"), "3600");
    assert.equal(redirect.headers["cache-control"], "private, max-age=3540");
    const bytes = Buffer.from(await (await fetch(location)).arrayBuffer());
    assert.deepEqual(await jpegSize(bytes), { format: "jpeg", width: 1280, height: 720 });
    const missing = await h.get(path.replace(/\/[^/]+$/, "/AAAAAAAAAAAAAAAAAAAAAA.jpeg"), {});
    assert.equal(missing.status, 404);
  } finally {
    await h.close();
    await server.close();
    rmSync(directory, { recursive: true, force: true });
  }
});

test("STORAGE_URL s3://bucket/prefix", () => {
  assert.deepEqual(parseStorageUrl("s3://my-results/doubao/gw/"), { bucket: "my-results", prefix: "doubao/gw/" });
  assert.deepEqual(parseStorageUrl("s3://my-results"), { bucket: "my-results", prefix: "" });
  assert.equal(parseStorageUrl("s3://B/x"), undefined);
  assert.equal(parseStorageUrl("file:///data"), undefined);
});

test("a gateway with STORAGE_URL stores its results in the bucket and serves them at /files (Range too)", async () => {
  const directory = mkdtempSync(join(tmpdir(), "doubao-storage-s3-gw-"));
  const server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory, configureBuckets: [{ name: "results" }] });
  const { port } = await server.run();
  const h = await startHarness({
    STORAGE_URL: "s3://results/gateway-a", S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_ACCESS_KEY_ID: "S3RVER", S3_SECRET_ACCESS_KEY: "S3RVER",
  });
  try {
    const answer = await h.post("/doubao/images/generations", { model: "doubao-seedream-4-0-250828", prompt: "a bucket", size: "1280x720", watermark: false });
    assert.equal(answer.status, 200);
    const key = (answer.json.data[0].url as string).split("/files/")[1] as string;
    const direct = await createS3Storage({ bucket: "results", prefix: "gateway-a", endpoint: `http://127.0.0.1:${port}`, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
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
    await server.close();
    rmSync(directory, { recursive: true, force: true });
  }
});

// The credentialed path (no embedded emulator): a standalone emulator plays Ark; Visual is not configured.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadConfig } from "../config/environment.js";
import { createEmulator, type Emulator } from "../emulator/server.js";
import { createRouter } from "../providers/registry.js";
import type { Provider } from "../providers/types.js";
import { createGateway, type Gateway } from "../server/runtime.js";
import { createFsStorage } from "../storage/fs.js";
import { CLASSIC_LIVE_CONFIG, jpegSize, TEST_KEY } from "../testing/harness.js";
import { runGeneration } from "./generate.js";
import { Resilience } from "./resilience.js";

let emulator: Emulator;
let base = "";
let gateway: Gateway;
const dataDir = mkdtempSync(join(tmpdir(), "doubao-gateway-upstreams-"));

before(async () => {
  emulator = createEmulator({ arkApiKey: "ark-secret-for-test", accessKeyId: "AKUNUSED", secretAccessKey: "unused" });
  base = await emulator.listen(0, "127.0.0.1");
  gateway = await createGateway(
    loadConfig({ NODE_ENV: "production", ARK_API_KEY: "ark-secret-for-test", ARK_BASE_URL: `${base}/api/v3`, DATA_DIR: dataDir, GATEWAY_BOOTSTRAP_KEY: TEST_KEY, PUBLIC_BASE_URL: "http://gw.test", GATEWAY_CONFIG: CLASSIC_LIVE_CONFIG }),
  );
});
after(async () => {
  await gateway.close();
  await emulator.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const inject = (method: "GET" | "POST", url: string, body?: unknown) =>
  gateway.app.inject({ method, url, headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" }, ...(body ? { payload: JSON.stringify(body) } : {}) });

test("Ark from its credentials: served, and reported as ark", async () => {
  const response = await inject("POST", "/doubao/images/generations", { model: "doubao-seedream-3-0-t2i-250415", prompt: "x", size: "512x768", response_format: "b64_json" });
  assert.equal(response.statusCode, 200);
  assert.equal(response.headers["x-gateway-provider"], "ark");
  assert.deepEqual(await jpegSize(Buffer.from(response.json().data[0].b64_json, "base64")), { format: "jpeg", width: 512, height: 768 });
});

test("a model without a configured upstream is a 503 naming what to set, and is not listed", async () => {
  const response = await inject("POST", "/doubao/drawing", { prompt: "x" });
  assert.equal(response.statusCode, 503);
  const body = response.json();
  assert.equal(body.error.err_code, -10008);
  assert.equal(body.error.type, "server_error");
  assert.equal(body.error.message, "No upstream is configured for model general_v2.1_L. Set VOLC_ACCESSKEY and VOLC_SECRETKEY, or API302_KEY and restart the gateway.");
  assert.equal(body.code, 50500);
  const models = (await inject("GET", "/v1/models")).json();
  assert.deepEqual(models.data.map((model: { id: string }) => model.id), [
    "doubao-seedream-4-5-251128", "doubao-seedream-4-0-250828", "doubao-seedream-5-0-260128", "doubao-seedream-5-0-pro-260628", "doubao-seedream-5-0-flash-260915",
    "doubao-seedream-3-0-t2i-250415", "doubao-seededit-3-0-i2i-250628",
  ]);
});

test("an upstream's result URL is downloaded from its own origin only", async () => {
  const direct = await fetch(`${base}/api/v3/images/generations`, {
    method: "POST",
    headers: { authorization: "Bearer ark-secret-for-test", "content-type": "application/json" },
    body: JSON.stringify({ model: "doubao-seedream-3-0-t2i-250415", prompt: "y", size: "512x512" }),
  });
  const url = ((await direct.json()) as { data: Array<{ url: string }> }).data[0]?.url as string;
  const urlProvider = (origin: string): Provider => ({
    id: "ark", protocol: "ark", weight: 1, priority: 1, models: undefined, limits: undefined, label: "fake", families: ["ark"], origin, drawsMarks: true,
    generate: async () => ({ images: [{ url, mediaType: "image/jpeg" }], upstreamRequestId: undefined, extras: undefined }),
    check: async () => ({ ok: true, reachable: true, credentials: "accepted", detail: "" }),
  });
  const deps = (provider: Provider) => ({
    router: createRouter([provider]),
    resilience: new Resilience({ policy: { maxAttempts: 1 } }),
    storage: createFsStorage(join(dataDir, "files")),
    resultHosting: "gateway" as const,
    publicBaseUrl: "http://gw.test",
    fetchPolicy: {},
  });
  const call = { operation: "ark.images", model: "doubao-seedream-3-0-t2i-250415", prompt: "y", size: "512x512", seed: 1, guidanceScale: 2.5, watermark: false, image: undefined } as const;
  const signal = new AbortController().signal;
  const job = { model: "doubao-seedream-3-0-t2i-250415", call, format: "b64_json" as const, signal, expected: { width: 512, height: 512 } };
  const stored = await runGeneration(deps(urlProvider(base)), job);
  assert.deepEqual(await jpegSize(Buffer.from(stored.images[0]?.b64 as string, "base64")), { format: "jpeg", width: 512, height: 512 });
  await assert.rejects(
    runGeneration(deps(urlProvider("http://127.0.0.2:1")), job),
    (error: Error & { status?: number }) => {
      assert.equal(error.status, 502);
      assert.match(error.message, /its result image could not be downloaded: .*non-public address \(127\.0\.0\.1\)/);
      return true;
    },
  );
});

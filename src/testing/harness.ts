/** A gateway on the embedded emulator (real adapters over loopback HTTP), with a temp DATA_DIR, for tests. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { loadConfig } from "../config/environment.js";
import { createGateway, type Gateway, type GatewayOptions } from "../server/runtime.js";

export const TEST_KEY = "dg_test_key_0123456789abcdefghijklmnop";
export const BASE = "http://gateway.test";
/** A GATEWAY_CONFIG that serves Seedream 3.0 and SeedEdit 3.0 as themselves (the tests of the source pages' models). */
export const CLASSIC_LIVE_CONFIG = fileURLToPath(new URL("./classic-live.yaml", import.meta.url));

/** Parsed response JSON, read freely by test assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- assertions check the shape themselves
export type Json = any;

export interface Harness {
  gateway: Gateway;
  dataDir: string;
  post(url: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; json: Json; headers: Record<string, unknown> }>;
  get(url: string, headers?: Record<string, string>): Promise<{ status: number; body: Buffer; json: () => Json; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function startHarness(environment: Record<string, string> = {}, options: GatewayOptions = {}): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), "doubao-gateway-test-"));
  const config = loadConfig({ DATA_DIR: dataDir, GATEWAY_EMULATE: "1", GATEWAY_BOOTSTRAP_KEY: TEST_KEY, PUBLIC_BASE_URL: BASE, GATEWAY_CONFIG: CLASSIC_LIVE_CONFIG, ...environment });
  const gateway = await createGateway(config, options);
  const auth = { authorization: `Bearer ${TEST_KEY}` };
  return {
    gateway,
    dataDir,
    async post(url, body, headers = {}) {
      const response = await gateway.app.inject({
        method: "POST",
        url,
        headers: { ...auth, "content-type": "application/json", ...headers },
        payload: typeof body === "string" ? body : JSON.stringify(body),
      });
      return { status: response.statusCode, json: response.json(), headers: response.headers };
    },
    async get(url, headers = auth) {
      const response = await gateway.app.inject({ method: "GET", url: url.startsWith(BASE) ? url.slice(BASE.length) : url, headers });
      return { status: response.statusCode, body: response.rawPayload, json: () => response.json(), headers: response.headers };
    },
    async close() {
      await gateway.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A test photo: gradient JPEG or PNG of the given size. */
export async function testImage(width: number, height: number, format: "jpeg" | "png" = "jpeg"): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><defs><linearGradient id="g"><stop offset="0" stop-color="#c33"/><stop offset="1" stop-color="#33c"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/></svg>`;
  const image = sharp(Buffer.from(svg));
  return format === "png" ? image.png().toBuffer() : image.jpeg().toBuffer();
}

export const dataUrl = (bytes: Buffer, format: "jpeg" | "png" = "jpeg") => `data:image/${format};base64,${bytes.toString("base64")}`;

export async function jpegSize(bytes: Buffer): Promise<{ format: string | undefined; width: number | undefined; height: number | undefined }> {
  const { format, width, height } = await sharp(bytes).metadata();
  return { format, width, height };
}

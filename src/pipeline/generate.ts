/**
 * One generation, around a provider: pick the provider, call it with the caller's abort signal, turn what
 * it returns into what the client asked for (bytes inline, or a stored file at a gateway URL), and count
 * the usage from the real images.
 */
import sharp from "sharp";
import { request } from "undici";
import type { PublicModelId } from "../api/models.js";
import type { ResponseFormat } from "../api/schemas.js";
import { GatewayError } from "../errors.js";
import { fetchInput, type FetchPolicy } from "../images/fetch-input.js";
import type { Router } from "../providers/registry.js";
import type { Provider, ProviderCall, ProviderImage, VisualExtras } from "../providers/types.js";
import { upstreamMalformed } from "../providers/upstream-error.js";
import type { BlobStorage } from "../storage/types.js";

export interface PipelineDeps {
  router: Router;
  storage: BlobStorage;
  resultHosting: "gateway" | "upstream";
  publicBaseUrl: string;
  fetchPolicy: FetchPolicy;
}

export interface DeliveredImage {
  url: string | undefined;
  b64: string | undefined;
  width: number;
  height: number;
}

export interface Generation {
  provider: Provider;
  images: DeliveredImage[];
  upstreamRequestId: string | undefined;
  extras: VisualExtras | undefined;
}

const MAX_RESULT_BYTES = 64 * 1024 * 1024;

/** Downloads an upstream's result: direct on the provider's configured origin, else under the public-fetch rules. */
async function downloadResult(url: string, provider: Provider, policy: FetchPolicy, signal: AbortSignal): Promise<Buffer> {
  try {
    if (new URL(url).origin === provider.origin) {
      const response = await request(url, { method: "GET", signal, headersTimeout: 30_000, bodyTimeout: 30_000 });
      if (response.statusCode !== 200) {
        response.body.on("error", () => undefined).destroy();
        throw new Error(`HTTP ${response.statusCode}`);
      }
      const bytes = Buffer.from(await response.body.arrayBuffer());
      if (bytes.length > MAX_RESULT_BYTES) throw new Error("too large");
      return bytes;
    }
    return (await fetchInput(url, "result", { ...policy, maxBytes: MAX_RESULT_BYTES }, signal)).bytes;
  } catch (error) {
    if (signal.aborted) throw error;
    throw upstreamMalformed(provider.label, `its result image could not be downloaded: ${error instanceof GatewayError ? error.message : (error as Error).message}`);
  }
}

export async function runGeneration(
  deps: PipelineDeps,
  model: PublicModelId,
  call: ProviderCall,
  format: ResponseFormat,
  signal: AbortSignal,
  /** The size the upstream will return, for usage when only its URL is passed through. */
  expected: { width: number; height: number },
): Promise<Generation> {
  const provider = deps.router.providerFor(model);
  const passThrough = format === "url" && deps.resultHosting === "upstream";
  const result = await provider.generate(call, { signal, delivery: passThrough ? "url" : "inline" });
  const images = await Promise.all(
    result.images.map(async (image: ProviderImage): Promise<DeliveredImage> => {
      if ("url" in image && passThrough) return { url: image.url, b64: undefined, ...expected };
      const bytes = "bytes" in image ? image.bytes : await downloadResult(image.url, provider, deps.fetchPolicy, signal);
      const metadata = await sharp(bytes).metadata().catch(() => undefined);
      if (!metadata?.width || !metadata.height || (metadata.format !== "jpeg" && metadata.format !== "png")) {
        throw upstreamMalformed(provider.label, "its result is not a readable JPEG or PNG");
      }
      const size = { width: metadata.width, height: metadata.height };
      if (format === "b64_json") return { url: undefined, b64: bytes.toString("base64"), ...size };
      const key = await deps.storage.put(bytes, metadata.format);
      return { url: `${deps.publicBaseUrl}/files/${key}`, b64: undefined, ...size };
    }),
  );
  return { provider, images, upstreamRequestId: result.upstreamRequestId, extras: result.extras };
}

/** `output_tokens` as Ark counts it: width×height/256 summed over the images. */
export function outputTokens(images: readonly DeliveredImage[]): number {
  return Math.round(images.reduce((sum, image) => sum + (image.width * image.height) / 256, 0));
}

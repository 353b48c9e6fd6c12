/**
 * One generation: carried through the model's providers by the resilience layer (retries, breaker,
 * fallback), each attempt calling a provider with the caller's abort signal and turning what it returns
 * into what the client asked for — bytes inline, or a stored file at a gateway URL — drawing the mark
 * itself where the provider cannot. A result that cannot be downloaded fails its attempt like any other
 * transient failure, so a request returns stored images or an error, never a URL to nothing.
 */
import sharp from "sharp";
import { request } from "undici";
import type { PublicModelId } from "../api/models.js";
import type { ResponseFormat } from "../api/schemas.js";
import { GatewayError } from "../errors.js";
import { fetchInput, type FetchPolicy } from "../images/fetch-input.js";
import { ARK_MARK, drawMark, MARK_TEXT, type MarkOptions } from "../images/watermark.js";
import type { Router } from "../providers/registry.js";
import type { Provider, ProviderCall, VisualExtras } from "../providers/types.js";
import { upstreamMalformed } from "../providers/upstream-error.js";
import type { BlobStorage } from "../storage/types.js";
import { crashPoint } from "../crash-points.js";
import type { AttemptLogger, Resilience } from "./resilience.js";

export interface PipelineDeps {
  router: Router;
  storage: BlobStorage;
  resultHosting: "gateway" | "upstream";
  publicBaseUrl: string;
  fetchPolicy: FetchPolicy;
  resilience: Resilience;
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

/** The mark a call asks for (CONTRACT.md §4), for a provider that cannot draw it. */
export function markOf(call: ProviderCall): MarkOptions | undefined {
  if (call.operation === "ark.images") return call.watermark ? ARK_MARK : undefined;
  if (call.operation === "visual.drawing" && call.logo.add_logo) {
    const text = call.logo.logo_text_content || (call.logo.language === 1 ? MARK_TEXT.english : MARK_TEXT.chinese);
    return { text, position: call.logo.position as MarkOptions["position"], opacity: call.logo.opacity };
  }
  return undefined;
}

/** The same call asking the upstream for no mark. */
function withoutMark(call: ProviderCall): ProviderCall {
  if (call.operation === "ark.images") return { ...call, watermark: false };
  if (call.operation === "visual.drawing") return { ...call, logo: { ...call.logo, add_logo: false } };
  return call;
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

/** What the accounts layer needs to see of a generation (accounts/accounts.ts Admission). */
export interface GenerationHooks {
  /** Before every upstream attempt: throws to stop the request (its key was revoked meanwhile). */
  beforeAttempt?(): void;
  /** The storage keys about to be written, recorded before the bytes are (crash recovery). */
  beforeStore?(keys: readonly string[]): void;
}

export async function runGeneration(
  deps: PipelineDeps,
  model: PublicModelId,
  call: ProviderCall,
  format: ResponseFormat,
  signal: AbortSignal,
  /** The size the upstream will return, for usage when only its URL is passed through. */
  expected: { width: number; height: number },
  log?: AttemptLogger,
  hooks: GenerationHooks = {},
): Promise<Generation> {
  const routes = deps.router.routesFor(model);
  const outcome = await deps.resilience.run(model, routes, async ({ provider }, attemptSignal) => {
    const mark = provider.drawsMarks ? undefined : markOf(call);
    const passThrough = format === "url" && deps.resultHosting === "upstream" && !mark;
    const result = await provider.generate(mark ? withoutMark(call) : call, { signal: attemptSignal, delivery: passThrough ? "url" : "inline" });
    crashPoint("after-upstream");
    if (passThrough) {
      const urls = result.images.filter((image) => "url" in image);
      if (urls.length === result.images.length) {
        return { ...result, images: urls.map((image): DeliveredImage => ({ url: image.url, b64: undefined, ...expected })) };
      }
    }
    // Every image is downloaded and checked before any is stored: a failed attempt leaves nothing behind.
    const checked = await Promise.all(
      result.images.map(async (image) => {
        let bytes = "bytes" in image ? image.bytes : await downloadResult(image.url, provider, deps.fetchPolicy, attemptSignal);
        // The upstream's base64 is passed on as it came when the bytes are unchanged and it is canonical (no second encoding).
        let base64 = "base64" in image && image.base64?.length === Math.ceil(bytes.length / 3) * 4 ? image.base64 : undefined;
        if (mark) {
          bytes = await drawMark(bytes, mark).catch(() => bytes);
          base64 = undefined;
        }
        const metadata = await sharp(bytes).metadata().catch(() => undefined);
        if (!metadata?.width || !metadata.height || (metadata.format !== "jpeg" && metadata.format !== "png")) {
          throw upstreamMalformed(provider.label, "its result is not a readable JPEG or PNG");
        }
        return { bytes, base64, format: metadata.format, width: metadata.width, height: metadata.height };
      }),
    );
    let images: DeliveredImage[];
    if (format === "b64_json") {
      images = checked.map(({ bytes, base64, width, height }) => ({ url: undefined, b64: base64 ?? bytes.toString("base64"), width, height }));
    } else {
      const keys = checked.map(({ format: imageFormat }) => deps.storage.newKey(imageFormat));
      hooks.beforeStore?.(keys);
      await Promise.all(checked.map(({ bytes }, index) => deps.storage.write(keys[index] as string, bytes)));
      crashPoint("after-storage");
      images = checked.map(({ width, height }, index) => ({ url: `${deps.publicBaseUrl}/files/${keys[index] as string}`, b64: undefined, width, height }));
    }
    return { ...result, images };
  }, signal, log, hooks.beforeAttempt);
  const { images, upstreamRequestId, extras } = outcome.value;
  return { provider: outcome.route.provider, images, upstreamRequestId, extras };
}

/** `output_tokens` as Ark counts it: width×height/256 summed over the images. */
export function outputTokens(images: readonly DeliveredImage[]): number {
  return Math.round(images.reduce((sum, image) => sum + (image.width * image.height) / 256, 0));
}

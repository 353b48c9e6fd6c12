/**
 * One generation: carried through the model's providers by the resilience layer (retries, breaker,
 * fallback), each attempt calling a provider with the caller's abort signal and turning what it returns
 * into what the client asked for — bytes inline, or a stored file at a gateway URL — drawing the mark
 * itself where the provider cannot. A result that cannot be downloaded fails its attempt like any other
 * transient failure, so a request returns stored images or an error, never a URL to nothing.
 */
import { readHeader } from "../images/inspect.js";
import { loadSharp } from "../images/sharp.js";
import { loadUndici } from "../process/undici.js";
import type { ResponseFormat } from "../api/schemas.js";
import { GatewayError } from "../errors/errors.js";
import { FETCH_TIMEOUT_MS, fetchInput, type FetchPolicy } from "../images/fetch-input.js";
import { ARK_MARK, MARK_TEXT, type MarkOptions } from "../images/mark-text.js";
import type { Router } from "../providers/registry.js";
import type { ArkSeedreamCall, ItemError, Provider, ProviderCall, ProviderImage, VisualExtras } from "../providers/types.js";
import { isTimeout, readBody, timeLeft, type CallLimits } from "../providers/http.js";
import { upstreamMalformed, upstreamTimeout } from "../providers/upstream-error.js";
import type { BlobStorage } from "../storage/types.js";
import { crashPoint } from "../process/crash-points.js";
import { parsePixelSize } from "../models/capabilities.js";
import type { AttemptLogger, Resilience } from "./resilience.js";

export interface PipelineDeps {
  router: Router;
  storage: BlobStorage;
  resultHosting: "gateway" | "upstream";
  publicBaseUrl: string;
  fetchPolicy: FetchPolicy;
  resilience: Resilience;
  /** Told of the images each upstream answer carried (metrics). */
  onImages?: (provider: string, images: number) => void;
}

export interface DeliveredImage {
  url: string | undefined;
  b64: string | undefined;
  width: number;
  height: number;
  format: "jpeg" | "png";
}

export interface Generation {
  provider: Provider;
  images: DeliveredImage[];
  upstreamRequestId: string | undefined;
  extras: VisualExtras | undefined;
  /** Images the upstream could not make, at their index among all items (Seedream 4.x/5.x). */
  errors: ItemError[];
  /** The upstream's `usage`, as it sent it. */
  usage: Record<string, unknown> | undefined;
}

/** The mark a call asks for (CONTRACT.md §4), for a provider that cannot draw it. */
export function markOf(call: ProviderCall): MarkOptions | undefined {
  if (call.operation === "ark.images" || call.operation === "ark.seedream") return call.watermark ? ARK_MARK : undefined;
  if ((call.operation === "visual.drawing" || call.operation === "visual.general3") && call.logo.add_logo) {
    const text = call.logo.logo_text_content || (call.logo.language === 1 ? MARK_TEXT.english : MARK_TEXT.chinese);
    return { text, position: call.logo.position as MarkOptions["position"], opacity: call.logo.opacity };
  }
  return undefined;
}

/** The same call asking the upstream for no mark. */
function withoutMark(call: ProviderCall): ProviderCall {
  if (call.operation === "ark.images" || call.operation === "ark.seedream") return { ...call, watermark: false };
  if (call.operation === "visual.drawing" || call.operation === "visual.general3") return { ...call, logo: { ...call.logo, add_logo: false } };
  return call;
}

const MAX_RESULT_BYTES = 64 * 1024 * 1024;

const DOWNLOAD_TIMEOUT_MS = 30_000;

/**
 * Downloads an upstream's result: direct on the provider's configured origin, else under the public-fetch rules;
 * within 30 s and the attempt's deadline (a stream's images have none of their own).
 */
async function downloadResult(url: string, provider: Provider, policy: FetchPolicy, limits: CallLimits): Promise<Buffer> {
  const deadline = Math.min(limits.deadline ?? Number.POSITIVE_INFINITY, Date.now() + DOWNLOAD_TIMEOUT_MS);
  const left = timeLeft(deadline) as number;
  try {
    if (new URL(url).origin === provider.origin) {
      const response = await (await loadUndici()).request(url, { method: "GET", signal: limits.signal, headersTimeout: left, bodyTimeout: left });
      if (response.statusCode !== 200) {
        response.body.on("error", () => undefined).destroy();
        throw new Error(`HTTP ${response.statusCode}`);
      }
      return await readBody(response.body, deadline, MAX_RESULT_BYTES);
    }
    return (await fetchInput(url, "result", { ...policy, maxBytes: MAX_RESULT_BYTES, timeoutMs: Math.min(policy.timeoutMs ?? FETCH_TIMEOUT_MS, left) }, limits.signal)).bytes;
  } catch (error) {
    if (limits.signal.aborted) throw error;
    if (isTimeout(error) || Date.now() >= deadline) throw upstreamTimeout(provider.label);
    throw upstreamMalformed(provider.label, `its result image could not be downloaded: ${error instanceof GatewayError ? error.message : (error as Error).message}`);
  }
}

/** What the accounts layer needs to see of a generation (accounts/accounts.ts Admission). */
export interface GenerationHooks {
  /** Before every upstream attempt: throws to stop the request (its key was revoked meanwhile). */
  beforeAttempt?(): Promise<void>;
  /** The storage keys about to be written, recorded before the bytes are (crash recovery). */
  beforeStore?(keys: readonly string[]): Promise<void>;
}

/** One upstream call of a request, and what the client asked to get back. */
export interface GenerationJob {
  /** The model-table id whose providers serve the call. */
  model: string;
  call: ProviderCall;
  format: ResponseFormat;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
  /** The size the upstream will return, for usage when only its URL is passed through. */
  expected: { width: number; height: number } | undefined;
  log?: AttemptLogger | undefined;
  hooks?: GenerationHooks | undefined;
  /** Every image is resized to this (a retired model's request served by a replacement that cannot make that size). */
  resizeTo?: { width: number; height: number } | undefined;
}

interface CheckedImage {
  bytes: Buffer;
  base64: string | undefined;
  format: "jpeg" | "png";
  width: number;
  height: number;
}

/** An upstream image made into what the gateway delivers: downloaded, marked, resized, checked. */
async function finishImage(deps: PipelineDeps, provider: Provider, image: ProviderImage, job: GenerationJob, mark: MarkOptions | undefined, limits: CallLimits): Promise<CheckedImage> {
  let bytes = "bytes" in image ? image.bytes : await downloadResult(image.url, provider, deps.fetchPolicy, limits);
  // The upstream's base64 is passed on as it came when the bytes are unchanged and it is canonical (no second encoding).
  let base64 = "base64" in image && image.base64?.length === Math.ceil(bytes.length / 3) * 4 ? image.base64 : undefined;
  if (mark) {
    // The mark's drawing (and its font) is loaded by the first request that needs one.
    const { drawMark } = await import("../images/watermark.js");
    bytes = await drawMark(bytes, mark).catch(() => bytes);
    base64 = undefined;
  }
  const header = readHeader(bytes);
  if (!header) throw upstreamMalformed(provider.label, "its result is not a readable JPEG or PNG");
  const { format } = header;
  if (job.resizeTo && (header.width !== job.resizeTo.width || header.height !== job.resizeTo.height)) {
    const resized = (await loadSharp())(bytes).resize(job.resizeTo.width, job.resizeTo.height, { fit: "fill" });
    bytes = await (format === "png" ? resized.png() : resized.jpeg({ quality: 92 })).toBuffer();
    return { bytes, base64: undefined, format, ...job.resizeTo };
  }
  return { bytes, base64, format, width: header.width, height: header.height };
}

/** Checked images as the client asked for them: inline base64, or stored (keys recorded first) at gateway URLs. */
async function deliver(deps: PipelineDeps, checked: readonly CheckedImage[], job: GenerationJob): Promise<DeliveredImage[]> {
  if (job.format === "b64_json") {
    return checked.map(({ bytes, base64, width, height, format }) => ({ url: undefined, b64: base64 ?? bytes.toString("base64"), width, height, format }));
  }
  const keys = checked.map(({ format }) => deps.storage.newKey(format));
  await job.hooks?.beforeStore?.(keys);
  await Promise.all(checked.map(({ bytes }, index) => deps.storage.write(keys[index] as string, bytes)));
  crashPoint("after-storage");
  return checked.map(({ width, height, format }, index) => ({ url: `${deps.publicBaseUrl}/files/${keys[index] as string}`, b64: undefined, width, height, format }));
}

/** The most images a call may make: a group's `max_images` (15 when unset, Seedream's most), else one. */
const imagesAsked = (call: ProviderCall) => (call.operation === "ark.seedream" && call.sequential === "auto" ? (call.maxImages ?? 15) : 1);

export async function runGeneration(deps: PipelineDeps, job: GenerationJob): Promise<Generation> {
  const routes = deps.router.routesFor(job.model);
  const { call } = job;
  const outcome = await deps.resilience.run(job.model, routes, async ({ provider }, limits) => {
    const mark = provider.drawsMarks ? undefined : markOf(call);
    const passThrough = job.format === "url" && deps.resultHosting === "upstream" && !mark && !job.resizeTo;
    const result = await provider.generate(mark ? withoutMark(call) : call, { signal: limits.signal, deadline: limits.deadline, delivery: passThrough ? "url" : "inline" });
    crashPoint("after-upstream");
    deps.onImages?.(provider.id, result.images.length);
    if (passThrough) {
      const urls = result.images.filter((image) => "url" in image);
      if (urls.length === result.images.length) {
        const images = urls.map((image): DeliveredImage => {
          const size = (image.size ? parsePixelSize(image.size) : undefined) ?? job.expected ?? { width: 0, height: 0 };
          return { url: image.url, b64: undefined, ...size, format: image.mediaType === "image/png" ? "png" : "jpeg" };
        });
        return { ...result, images };
      }
    }
    // Every image is downloaded and checked before any is stored: a failed attempt leaves nothing behind.
    const checked = await Promise.all(result.images.map((image) => finishImage(deps, provider, image, job, mark, limits)));
    return { ...result, images: await deliver(deps, checked, job) };
  }, { signal: job.signal, log: job.log, guard: job.hooks?.beforeAttempt, images: imagesAsked(call) });
  const { images, upstreamRequestId, extras, errors, usage } = outcome.value;
  return { provider: outcome.route.provider, images, upstreamRequestId, extras, errors: errors ?? [], usage };
}

/** One event of a streamed generation, as delivered: every image already stored (or encoded) before it is yielded. */
export type DeliveredEvent =
  | { type: "image"; index: number; image: DeliveredImage }
  | { type: "failed"; index: number; error: { code: string; message: string } }
  | { type: "completed"; usage: Record<string, unknown> | undefined };

export interface OpenedStream {
  provider: Provider;
  events: AsyncIterable<DeliveredEvent>;
}

/**
 * Opens a streamed generation. Until the upstream has answered (its headers come with the first image)
 * the attempt is retried and falls back like any other; after that, a failure ends the stream — it is
 * thrown from the iteration, and the images yielded before it were delivered.
 */
export async function openStream(deps: PipelineDeps, job: GenerationJob & { call: ArkSeedreamCall }): Promise<OpenedStream> {
  const routes = deps.router.routesFor(job.model);
  const outcome = await deps.resilience.run(job.model, routes, async ({ provider }, limits) => {
    if (!provider.stream) throw upstreamMalformed(provider.label, "this provider cannot stream");
    const mark = provider.drawsMarks ? undefined : markOf(job.call);
    // The attempt's deadline bounds the wait for the answer, not the stream after it: the body lives as long as the client.
    const upstream = await provider.stream((mark ? withoutMark(job.call) : job.call) as ArkSeedreamCall, { signal: limits.signal, deadline: limits.deadline, delivery: "inline" });
    return { provider, upstream, mark };
  }, { signal: job.signal, log: job.log, guard: job.hooks?.beforeAttempt, images: imagesAsked(job.call) });
  const { provider, upstream, mark } = outcome.value;
  async function* delivered(): AsyncGenerator<DeliveredEvent> {
    for await (const event of upstream) {
      if (event.type !== "image") {
        yield event;
        continue;
      }
      deps.onImages?.(provider.id, 1);
      const checked = await finishImage(deps, provider, event.image, job, mark, { signal: job.signal });
      const [image] = await deliver(deps, [checked], job);
      yield { type: "image", index: event.index, image: image as DeliveredImage };
    }
  }
  return { provider, events: delivered() };
}

/** `output_tokens` as Ark counts it: width×height/256 summed over the images. */
export function outputTokens(images: readonly DeliveredImage[]): number {
  return Math.round(images.reduce((sum, image) => sum + (image.width * image.height) / 256, 0));
}

/** Ark's `usage` of delivered images, for an answer whose upstream sent none. */
export function usageOf(images: readonly DeliveredImage[]): { generated_images: number; output_tokens: number; total_tokens: number } {
  const tokens = outputTokens(images);
  return { generated_images: images.length, output_tokens: tokens, total_tokens: tokens };
}

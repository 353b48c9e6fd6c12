/**
 * `POST /doubao/images/generations` and `POST /v1/images/generations` (CONTRACT.md §2.1, §2.2, §3.1;
 * LIVE-MODELS.md §2): the model table decides what a request is — a Seedream 4.x/5.x request (validated
 * from the model's capabilities), a Seedream 3.0 / SeedEdit 3.0 request served as it is, or one for a
 * retired model served by its replacement, translated so the client's contract holds.
 */
import type { ImagesResponse, ImageUsage } from "@doubao-gateway/sdk";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { SEEDEDIT_3_I2I, SEEDREAM_3_T2I } from "../api/models.js";
import {
  arkModelField, parseSeedreamSize, seededitRequest, seededitRequestV1, seedream4Request, seedream4RequestV1, seedreamRequest, seedreamRequestV1,
  type ResponseFormat, type Seedream4Request, type SeededitRequest, type SeedreamRequest,
} from "../api/schemas.js";
import { dropNulls } from "../api/nulls.js";
import { parseOrThrow } from "../api/validate.js";
import { invalidParameter } from "../errors.js";
import { adaptiveSize } from "../images/adaptive-size.js";
import { SEEDREAM_4_FORMATS } from "../images/inspect.js";
import { checkCapabilities, mostImages, parsePixelSize, pixelSizeFits } from "../models/capabilities.js";
import { lifecycleHeaders, modelRetired } from "../models/lifecycle.js";
import { KIND_FAMILY, type Capabilities, type ModelEntry } from "../models/types.js";
import { outputTokens, runGeneration, usageOf, type DeliveredImage, type Generation, type PipelineDeps } from "../pipeline/generate.js";
import { loadInputImage } from "../pipeline/input-image.js";
import type { AttemptLogger } from "../pipeline/resilience.js";
import type { ArkImagesCall, ArkSeedreamCall, InputImage, ProviderCall } from "../providers/types.js";
import type { Accounts, Admission } from "../accounts/accounts.js";
import { crashPoint } from "../crash-points.js";
import type { FailedImages } from "../stores/keys.js";
import { routeConfig } from "./route-config.js";
import { accounted, failedImagesOf, hooksOf, requestSignal, requireObject, unixSeconds, type FailedImage } from "./context.js";
import { streamToClient } from "./stream.js";

/** The answer's shape is the SDK's (one definition for the gateway and its clients). */
export type ArkResponse = ImagesResponse;
type ArkItem = ImagesResponse["data"][number];

/** The fields every 3.0-shaped call needs, whichever route parsed them. */
export type ArkInput = Pick<SeedreamRequest | SeededitRequest, "model" | "prompt" | "size" | "seed" | "guidance_scale" | "watermark" | "response_format" | "n">;

export interface RouteDeps extends PipelineDeps {
  accounts: Accounts;
  /** Comment interval of streamed answers (LIVE-MODELS.md §2.4); default 15 000 ms. */
  streamKeepAliveMs?: number;
}

/** What one Ark-family request needs besides its calls. */
export interface ArkRequestContext {
  reply: FastifyReply;
  deps: PipelineDeps;
  /** The model string the client sent, echoed in the answer. */
  clientModel: string;
  /** The model-table id whose providers serve the calls. */
  servedModel: string;
  format: ResponseFormat;
  signal: AbortSignal;
  log: AttemptLogger;
  admission: Admission;
  /** The size the images are delivered at when the serving model cannot make it (a retired model's request). */
  resizeTo?: { width: number; height: number } | undefined;
  /** For usage when only upstream URLs are passed through. */
  expected?: { width: number; height: number } | undefined;
  /** 4.x/5.x answers: an image that could not be made is an `error` item (`inline`, the default) or listed in `failed` (`omit`). */
  failedImages?: FailedImages;
}

/** Sums the upstream `usage` objects of several calls, field by field (nested objects too). */
function sumUsage(usages: ReadonlyArray<Record<string, unknown> | undefined>): ImageUsage | undefined {
  const present = usages.filter((usage): usage is Record<string, unknown> => usage !== undefined);
  if (present.length === 0) return undefined;
  // One call (every request but a /v1 n > 1): its usage as the upstream sent it.
  if (present.length === 1) return present[0] as ImageUsage;
  const sum = (values: unknown[]): unknown => {
    if (values.every((value) => typeof value === "number")) return (values as number[]).reduce((total, value) => total + value, 0);
    if (values.every((value) => value && typeof value === "object")) {
      const keys = [...new Set(values.flatMap((value) => Object.keys(value as object)))];
      return Object.fromEntries(keys.map((key) => [key, sum(values.map((value) => (value as Record<string, unknown>)[key] ?? 0))]));
    }
    return values[0];
  };
  return sum(present) as ImageUsage;
}

/**
 * Makes the calls (one per image of `n`) and answers in the Seedream 3.0 shape: `{model, created, data:
 * [{url} | {b64_json}], usage}`; partial failures are reported, total failure throws the first.
 */
export async function sendClassicImages(context: ArkRequestContext, calls: readonly ProviderCall[]) {
  const { reply, deps, admission } = context;
  const settled = await Promise.allSettled(calls.map((call) => runGeneration(deps, {
    model: context.servedModel, call, format: context.format, signal: context.signal, expected: context.expected, log: context.log,
    hooks: hooksOf(admission), resizeTo: context.resizeTo,
  })));
  const succeeded = settled.filter((entry): entry is PromiseFulfilledResult<Generation> => entry.status === "fulfilled").map((entry) => entry.value);
  const failures = settled.filter((entry): entry is PromiseRejectedResult => entry.status === "rejected").map((entry) => entry.reason as Error);
  if (succeeded.length === 0) throw failures[0];
  const images: DeliveredImage[] = succeeded.flatMap((generation) => generation.images);
  reply.header("x-gateway-provider", (succeeded[0] as Generation).provider.label);
  const response: ArkResponse = {
    model: context.clientModel,
    created: unixSeconds(),
    data: images.map((item) => (item.b64 !== undefined ? { b64_json: item.b64 } : { url: item.url as string })),
    usage: usageOf(images),
  };
  if (failures.length > 0) {
    response.error = { code: "PartialFailure", message: `${failures.length} of ${calls.length} images failed; the first failure: ${(failures[0] as Error).message}` };
  }
  await settleImages(context, succeeded, images, response.error?.code ?? null);
  // Returned, not sent: the request's concurrency slot is freed (routes/context.ts) before Fastify sends it.
  reply.code(200);
  return response;
}

async function settleImages(context: ArkRequestContext, succeeded: readonly Generation[], images: readonly DeliveredImage[], errorCode: string | null): Promise<void> {
  await context.admission.settle({
    status: 200, images: images.length, outputTokens: outputTokens(images), provider: (succeeded[0] as Generation).provider.id, servedModel: context.servedModel,
    upstreamRequestId: succeeded.map((generation) => generation.upstreamRequestId).find(Boolean) ?? null, errorCode,
  });
  crashPoint("after-ledger");
}

/**
 * Makes the calls of a 4.x/5.x request (one, or n single-image calls on `/v1`) and answers in the 4.x
 * shape: every item at its place — an image with its `size`, or the error of an image that could not be
 * made (a refused group image, a failed one of n) — and `usage` as the upstream sent it.
 */
async function sendSeedream4Images(context: ArkRequestContext, calls: readonly ArkSeedreamCall[], withFormat: boolean) {
  const { reply, deps } = context;
  const settled = await Promise.allSettled(calls.map((call) => runGeneration(deps, {
    model: context.servedModel, call, format: context.format, signal: context.signal, expected: undefined, log: context.log, hooks: hooksOf(context.admission),
    resizeTo: context.resizeTo,
  })));
  const succeeded = settled.filter((entry): entry is PromiseFulfilledResult<Generation> => entry.status === "fulfilled").map((entry) => entry.value);
  if (succeeded.length === 0) throw (settled[0] as PromiseRejectedResult).reason;
  const data: ArkItem[] = [];
  for (const outcome of settled) {
    if (outcome.status === "rejected") {
      const error = outcome.reason as Error & { code?: string };
      data.push({ error: { code: error.code ?? "InternalServiceError", message: error.message } });
      continue;
    }
    const { images, errors } = outcome.value;
    const total = images.length + errors.length;
    let next = 0;
    for (let index = 0; index < total; index += 1) {
      const failed = errors.find((error) => error.index === index);
      if (failed) {
        data.push({ error: { code: failed.code, message: failed.message } });
        continue;
      }
      const image = images[next++] as DeliveredImage;
      data.push({
        ...(image.b64 !== undefined ? { b64_json: image.b64 } : { url: image.url as string }),
        size: `${image.width}x${image.height}`,
        ...(withFormat ? { output_format: image.format } : {}),
      });
    }
  }
  const images = succeeded.flatMap((generation) => generation.images);
  reply.header("x-gateway-provider", (succeeded[0] as Generation).provider.label);
  const usage = (succeeded.length === calls.length && sumUsage(succeeded.map((generation) => generation.usage))) || usageOf(images);
  const failed: FailedImage[] = data.flatMap((item, index) => ("error" in item ? [{ image_index: index, code: item.error.code, message: item.error.message }] : []));
  // Omitted: `data` holds only images (what @ai-sdk/bytedance requires of every item), the failures are listed beside it.
  const response: ArkResponse = context.failedImages === "omit"
    ? { model: context.clientModel, created: unixSeconds(), data: data.filter((item) => !("error" in item)), usage, failed }
    : { model: context.clientModel, created: unixSeconds(), data, usage };
  await settleImages(context, succeeded, images, failed.length > 0 ? "PartialFailure" : null);
  // Returned, not sent: the request's concurrency slot is freed (routes/context.ts) before Fastify sends it.
  reply.code(200);
  return response;
}

/**
 * The `"<W>x<H>"` a model makes closest to `width`×`height` with the same ratio: the size itself when the
 * model can make it, else scaled until its pixel count fits (the result is then resized back).
 */
export function sizeFor(capabilities: Capabilities, width: number, height: number): { size: string; resize: boolean } {
  if (pixelSizeFits(capabilities, width, height)) return { size: `${width}x${height}`, resize: false };
  const { min_pixels: min, max_pixels: max } = capabilities.sizes;
  const pixels = width * height;
  const scale = pixels < min ? Math.sqrt(min / pixels) : Math.sqrt((max ?? pixels) / pixels);
  let scaledWidth = pixels < min ? Math.ceil(width * scale) : Math.floor(width * scale);
  let scaledHeight = pixels < min ? Math.ceil(height * scale) : Math.floor(height * scale);
  while (scaledWidth * scaledHeight < min) {
    scaledWidth += 1;
    scaledHeight = Math.ceil((scaledWidth * height) / width);
  }
  return { size: `${scaledWidth}x${scaledHeight}`, resize: true };
}

/**
 * A 4.x/5.x `size` for a retired model's replacement: kept when the replacement takes it; a keyword it lacks
 * becomes its nearest keyword; a `"<W>x<H>"` it cannot make is asked at the nearest size it can, and resized.
 */
export function translateSize(capabilities: Capabilities, size: string): { size: string; resizeTo: { width: number; height: number } | undefined } {
  if (capabilities.sizes.keywords.includes(size)) return { size, resizeTo: undefined };
  const keyword = /^(\d+(?:\.\d+)?)K$/.exec(size);
  if (keyword && capabilities.sizes.keywords.length > 0) {
    const wanted = Number(keyword[1]);
    const distance = (candidate: string) => Math.abs(Number(candidate.slice(0, -1)) - wanted);
    const nearest = [...capabilities.sizes.keywords].sort((a, b) => distance(a) - distance(b) || Number(b.slice(0, -1)) - Number(a.slice(0, -1)))[0] as string;
    return { size: nearest, resizeTo: undefined };
  }
  const target = parsePixelSize(size);
  if (!target) return { size, resizeTo: undefined };
  const fitted = sizeFor(capabilities, target.width, target.height);
  return { size: fitted.size, resizeTo: fitted.resize ? target : undefined };
}

/** The 400 for a model that is not an image model of this endpoint. */
function notServedHere(deps: PipelineDeps, model: string) {
  const ids = deps.router.models.entries.filter((entry) => KIND_FAMILY[entry.kind] === "ark").map((entry) => entry.id);
  return invalidParameter("model", `Invalid parameter \`model\`: "${model.slice(0, 80)}" is not served on this endpoint; use one of ${ids.join(", ")}.`);
}

/** The model that serves a retired model's requests (named in `x-gateway-served-model`); 410 when there is none that can be served. */
export function replacementFor(reply: FastifyReply, deps: PipelineDeps, entry: ModelEntry): ModelEntry {
  const replacementId = entry.lifecycle.replacement;
  const replacement = replacementId ? deps.router.models.find(replacementId) : undefined;
  if (!replacement || !deps.router.configured(replacement.id)) throw modelRetired(entry, deps.router.models.successor(entry));
  reply.header("x-gateway-served-model", replacement.id);
  return replacement;
}

/**
 * A Seedream 3.0 or SeedEdit 3.0 request (CONTRACT.md §2.1, §2.2), whether its model serves it or a replacement
 * does: its fields by the contract's schema, and SeedEdit's input image loaded and checked (before admission).
 */
async function classicRequest(entry: ModelEntry, body: Record<string, unknown>, v1: boolean, deps: PipelineDeps, signal: AbortSignal) {
  if (entry.kind === "seededit-3") {
    const input: SeededitRequest = { n: 1, ...parseOrThrow(v1 ? seededitRequestV1 : seededitRequest, { ...body, model: SEEDEDIT_3_I2I }) };
    return { input, image: await loadInputImage(input.image, { field: "image", checkRatio: true }, deps, signal) };
  }
  const input: SeedreamRequest = { n: 1, ...parseOrThrow(v1 ? seedreamRequestV1 : seedreamRequest, { ...body, model: SEEDREAM_3_T2I }) };
  return { input, image: undefined };
}

/** A request whose model is retired: served by its replacement in the client's shape, or 410. */
async function serveRetired(request: FastifyRequest, reply: FastifyReply, deps: RouteDeps, entry: ModelEntry, body: Record<string, unknown>, v1: boolean, clientModel: string) {
  const replacement = replacementFor(reply, deps, entry);
  const capabilities = replacement.capabilities as Capabilities;
  const signal = requestSignal(reply);
  const { input, image } = await classicRequest(entry, body, v1, deps, signal);
  return serveTranslated(request, reply, deps, { entry, replacement, capabilities, input, image, signal, clientModel });
}

/** SeedEdit's input (and its adaptive size), or Seedream 3.0's size, asked of a 4.x/5.x replacement. */
async function serveTranslated(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: RouteDeps,
  translation: { entry: ModelEntry; replacement: ModelEntry; capabilities: Capabilities; input: ArkInput; image: InputImage | undefined; signal: AbortSignal; clientModel: string },
) {
  const { entry, replacement, capabilities, input, image } = translation;
  const target = image ? adaptiveSize(image.width, image.height) : (parseSeedreamSize(input.size) as { width: number; height: number });
  const { size, resize } = sizeFor(capabilities, target.width, target.height);
  const call: ArkSeedreamCall = {
    operation: "ark.seedream", model: replacement.id, prompt: input.prompt, images: image ? [image] : [], size, watermark: input.watermark,
    optimizePrompt: undefined, sequential: "disabled", maxImages: undefined, outputFormat: undefined, tools: undefined,
  };
  return accounted(request, reply, deps.accounts, { model: entry.id, images: input.n, servedModel: replacement.id, referenceImages: image ? 1 : 0 }, (admission) =>
    sendClassicImages(
      {
        reply, deps, clientModel: translation.clientModel, servedModel: replacement.id, format: input.response_format, signal: translation.signal,
        log: request.log, admission, resizeTo: resize ? target : undefined, expected: target,
      },
      Array.from({ length: input.n }, () => call),
    ),
  );
}

/** The reference images of a 4.x/5.x request, each through the SSRF-safe fetch and the input checks. */
async function loadReferences(value: string | string[] | undefined, capabilities: Capabilities, deps: PipelineDeps, signal: AbortSignal): Promise<InputImage[]> {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  const ratio = { min: capabilities.sizes.min_ratio, max: capabilities.sizes.max_ratio };
  return Promise.all(list.map((item, index) =>
    loadInputImage(item, { field: Array.isArray(value) ? `image.${index}` : "image", checkRatio: false, ratio, formats: SEEDREAM_4_FORMATS }, deps, signal),
  ));
}

/**
 * A 4.x/5.x request: validated from the serving model's entry, reference images checked, then answered or
 * streamed. `asked` is the model the client named when it is retired and `entry` its replacement: the
 * request is then translated (its size) and answered under the asked model's id.
 */
async function serveSeedream4(request: FastifyRequest, reply: FastifyReply, deps: RouteDeps, entry: ModelEntry, body: Record<string, unknown>, v1: boolean, asked: ModelEntry = entry) {
  const capabilities = entry.capabilities as Capabilities;
  const clientModel = asked.id;
  let resizeTo: { width: number; height: number } | undefined;
  if (asked !== entry && typeof body.size === "string") ({ size: body.size, resizeTo } = translateSize(capabilities, body.size));
  const input: Seedream4Request = { n: 1, ...parseOrThrow(v1 ? seedream4RequestV1 : seedream4Request, body) };
  checkCapabilities(entry, input);
  if (input.stream && input.n > 1) throw invalidParameter("n", "Invalid parameter `n`: n > 1 cannot be combined with stream; use sequential_image_generation \"auto\" for several images in one stream.");
  const failedImages = failedImagesOf(request);
  const ignored = (["seed", "guidance_scale"] as const).filter((field) => body[field] !== undefined);
  if (ignored.length > 0) reply.header("x-gateway-ignored", ignored.join(", "));
  const signal = requestSignal(reply);
  const images = await loadReferences(input.image, capabilities, deps, signal);
  const call: ArkSeedreamCall = {
    operation: "ark.seedream", model: entry.id, prompt: input.prompt, images, size: input.size, watermark: input.watermark,
    optimizePrompt: input.optimize_prompt_options, sequential: input.sequential_image_generation,
    maxImages: input.sequential_image_generation === "auto" ? mostImages(entry, input) : undefined,
    outputFormat: input.output_format as "jpeg" | "png" | undefined, tools: input.tools,
  };
  const work = { model: asked.id, servedModel: entry.id, images: mostImages(entry, input), referenceImages: images.length };
  return accounted(request, reply, deps.accounts, work, async (admission) => {
    const context: ArkRequestContext = { reply, deps, clientModel, servedModel: entry.id, format: input.response_format, signal, log: request.log, admission, resizeTo, failedImages };
    if (input.stream) {
      const job = { model: entry.id, call, format: v1 ? "b64_json" as const : input.response_format, signal, expected: undefined, log: request.log, hooks: hooksOf(admission), resizeTo };
      return streamToClient(request, reply, deps, admission, job, {
        flavour: v1 ? "openai" : "ark", clientModel, keepAliveMs: deps.streamKeepAliveMs ?? 15_000, failedImages,
      });
    }
    return sendSeedream4Images(context, Array.from({ length: input.n }, () => call), capabilities.output_formats.length > 1);
  });
}

/**
 * OpenAI clients send `size: "auto"` (the openai SDK's default), which OpenAI accepts: on `/v1` it is the model's
 * default size (SeedEdit's `adaptive`). A `null` anywhere is an absent field on every route (api/nulls.ts).
 */
export function openAiLeniency(body: Record<string, unknown>): void {
  if (body.size === "auto") delete body.size;
}

export function registerImageRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const v1 = routeConfig(request).dialect === "openai";
    const body = requireObject(request);
    dropNulls(body);
    if (v1) openAiLeniency(body);
    // OpenAI's model is optional (the openai SDK and OpenAI-shaped clients may leave it out): the configured default serves.
    if (v1 && body.model === undefined) body.model = deps.router.models.defaultModel;
    const { model: asked } = parseOrThrow(arkModelField, body);
    const entry = deps.router.models.find(asked);
    if (!entry || KIND_FAMILY[entry.kind] !== "ark") throw notServedHere(deps, asked);
    // The answer names the model asked for by its id (an alias is answered with the id; a retired model keeps its own).
    const clientModel = entry.id;
    for (const [name, value] of Object.entries(lifecycleHeaders(entry, deps.router.models))) reply.header(name, value);
    if (entry.lifecycle.state === "retired") {
      if (entry.kind !== "seedream-4") return serveRetired(request, reply, deps, entry, body, v1, clientModel);
      const replacement = replacementFor(reply, deps, entry);
      return serveSeedream4(request, reply, deps, replacement, { ...body, model: replacement.id }, v1, entry);
    }
    body.model = entry.id;
    if (entry.kind === "seedream-4") return serveSeedream4(request, reply, deps, entry, body, v1);
    const signal = requestSignal(reply);
    const { input, image } = await classicRequest(entry, body, v1, deps, signal);
    return accounted(request, reply, deps.accounts, { model: entry.id, images: input.n, referenceImages: image ? 1 : 0 }, (admission) =>
      sendClassic(request, reply, deps, admission, input, image, signal, clientModel),
    );
  };
  app.post("/doubao/images/generations", { config: { async: true } }, handler);
  // Ark's own path: a client configured with Ark's base URL (`https://ark.cn-beijing.volces.com/api/v3`) changes only the host.
  app.post("/api/v3/images/generations", { config: { async: true } }, handler);
  app.post("/v1/images/generations", { config: { async: true, dialect: "openai" } }, handler);
}

/** A Seedream 3.0 or SeedEdit 3.0 request served by its own model: n calls with seeds seed, seed+1, … */
export function sendClassic(
  request: FastifyRequest, reply: FastifyReply, deps: PipelineDeps, admission: Admission, input: ArkInput, image: InputImage | undefined, signal: AbortSignal, clientModel: string,
) {
  const expected = image ? adaptiveSize(image.width, image.height) : (parseSeedreamSize(input.size) as { width: number; height: number });
  const calls = Array.from({ length: input.n }, (_, index): ArkImagesCall => ({
    operation: "ark.images", model: input.model, prompt: input.prompt, size: input.size, seed: input.seed === -1 ? -1 : (input.seed + index) % 2147483648,
    guidanceScale: input.guidance_scale, watermark: input.watermark, image,
  }));
  return sendClassicImages({ reply, deps, clientModel, servedModel: input.model, format: input.response_format, signal, log: request.log, admission, expected }, calls);
}

export { serveTranslated, sendSeedream4Images };

/**
 * The answers of Ark-family requests (Seedream 3.0, SeedEdit 3.0, Seedream 4.x/5.x, and a retired model served by
 * its replacement): the calls made through the generation pipeline, the request settled, the answer in the shape
 * its route speaks. The routes (images, edits) parse and hand over; nothing here reads a route's own helpers.
 */
import type { ImagesResponse, ImageUsage } from "@doubao-gateway/sdk";
import type { FastifyReply } from "fastify";
import { modelRetired } from "../models/lifecycle.js";
import type { ModelEntry, Seedream4Entry } from "../models/types.js";
import type { Accounts, Admission } from "../accounts/accounts.js";
import type { ArkSeedreamCall, ProviderCall } from "../providers/types.js";
import { hooksOf, settleDelivered, unixSeconds, type FailedImage } from "./context.js";
import { runGeneration, usageOf, type DeliveredImage, type Generation, type PipelineDeps } from "./generate.js";
import type { PlannedDelivery } from "./plan.js";
import type { AttemptLogger } from "./resilience.js";

/** The answer's shape is the SDK's (one definition for the gateway and its clients). */
export type ArkResponse = ImagesResponse;
type ArkItem = ImagesResponse["data"][number];


export interface RouteDeps extends PipelineDeps {
  accounts: Accounts;
  /** Comment interval of streamed answers (LIVE-MODELS.md §2.4); default 15 000 ms. */
  streamKeepAliveMs?: number;
}

/** What one Ark-family request needs besides its calls. */
export interface ArkRequestContext extends PlannedDelivery {
  reply: FastifyReply;
  deps: PipelineDeps;
  signal: AbortSignal;
  log: AttemptLogger;
  admission: Admission;
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
  // Returned, not sent: the request's concurrency slot is freed (pipeline/context.ts) before Fastify sends it.
  reply.code(200);
  return response;
}

const settleImages = (context: ArkRequestContext, succeeded: readonly Generation[], images: readonly DeliveredImage[], errorCode: string | null) =>
  settleDelivered(context.admission, {
    images, provider: (succeeded[0] as Generation).provider.id, servedModel: context.servedModel,
    upstreamRequestId: succeeded.map((generation) => generation.upstreamRequestId).find(Boolean), errorCode,
  });

/**
 * Makes the calls of a 4.x/5.x request (one, or n single-image calls on `/v1`) and answers in the 4.x
 * shape: every item at its place — an image with its `size`, or the error of an image that could not be
 * made (a refused group image, a failed one of n) — and `usage` as the upstream sent it.
 */
export async function sendSeedream4Images(context: ArkRequestContext, calls: readonly ArkSeedreamCall[], withFormat: boolean) {
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
  // Returned, not sent: the request's concurrency slot is freed (pipeline/context.ts) before Fastify sends it.
  reply.code(200);
  return response;
}

/** The model that serves a retired model's requests (named in `x-gateway-served-model`); 410 when there is none that can be served. */
export function replacementFor(reply: FastifyReply, deps: PipelineDeps, entry: ModelEntry): Seedream4Entry {
  const replacementId = entry.lifecycle.replacement;
  const replacement = replacementId ? deps.router.models.find(replacementId) : undefined;
  // The table lets an Ark image model be replaced by a Seedream 4.x/5.x model only (models/table.ts).
  if (!replacement || replacement.kind !== "seedream-4" || !deps.router.configured(replacement.id)) throw modelRetired(entry, deps.router.models.successor(entry));
  reply.header("x-gateway-served-model", replacement.id);
  return replacement;
}


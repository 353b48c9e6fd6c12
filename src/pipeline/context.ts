/** Per-request helpers shared by the route files. */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Accounts, Admission } from "../accounts/accounts.js";
import { ClientGone, invalidParameter, invalidRequest, keyRefused } from "../errors/errors.js";
import { crashPoint } from "../process/crash-points.js";
import { outputTokens, type DeliveredImage, type GenerationHooks } from "./generate.js";
import type { ApiKeyRecord, FailedImages } from "../stores/keys.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The caller's key, set by the auth hook on every authenticated route. */
    apiKey: ApiKeyRecord | null;
    /** The model a generation request was admitted for (its canonical id), for the request's log line. */
    modelId: string | null;
  }
}

/**
 * Admits a generation request under its key's limits and quotas (before any upstream call), and runs it:
 * a failure settles the request uncharged; the concurrency slot is freed before the answer is sent.
 */
export async function accounted<T>(
  request: FastifyRequest,
  reply: FastifyReply,
  accounts: Accounts,
  /** The model asked for (canonical id), the most images the request may make, the model that will serve (if another), the reference images sent. */
  work: { model: string; images: number; servedModel?: string; referenceImages?: number },
  run: (admission: Admission) => Promise<T>,
): Promise<T> {
  if (!request.apiKey) throw keyRefused("unknown");
  request.modelId = work.model;
  const admission = await accounts.admit(request.apiKey, { id: request.id, endpoint: request.routeOptions.url ?? request.url, ...work });
  // A client that goes away frees the slot at once; otherwise it is freed when the work is done, before the answer
  // is sent, so that whoever got the answer can send the next request at once.
  reply.raw.once("close", () => void admission.release());
  try {
    return await run(admission);
  } catch (error) {
    await admission.fail(error instanceof ClientGone || (error as Error | undefined)?.name === "AbortError" && reply.raw.destroyed ? new ClientGone() : error);
    throw error;
  } finally {
    await admission.release();
  }
}

/**
 * Records what a request delivered, before its answer is sent — the one way every answer (JSON, drawing, stream)
 * settles: charged for the images that reached the client or storage, by the model that made them.
 */
export async function settleDelivered(
  admission: Admission,
  delivered: { images: readonly DeliveredImage[]; provider: string | null; upstreamRequestId: string | null | undefined; servedModel?: string; errorCode: string | null },
): Promise<void> {
  await admission.settle({
    status: 200, images: delivered.images.length, outputTokens: outputTokens(delivered.images), provider: delivered.provider,
    upstreamRequestId: delivered.upstreamRequestId ?? null, errorCode: delivered.errorCode, ...(delivered.servedModel ? { servedModel: delivered.servedModel } : {}),
  });
  crashPoint("after-ledger");
}

/** What the generation pipeline reports to the admission. */
export const hooksOf = (admission: Admission): GenerationHooks => ({ beforeAttempt: admission.checkKey, beforeStore: admission.recordFiles });

/**
 * Aborts when the client goes away before the answer is sent: in-flight upstream calls and input
 * downloads are cancelled. Deadlines are the resilience layer's (pipeline/resilience.ts).
 */
export function requestSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) controller.abort(new ClientGone());
  });
  return controller.signal;
}

/** The body must be a JSON object; anything else is a 400 before field validation. */
export function requireObject(request: FastifyRequest): Record<string, unknown> {
  const body = request.body;
  if (body === undefined) {
    throw invalidRequest(400, "MissingParameter", "The request body is empty; send a JSON object with Content-Type: application/json.", "请求体为空，请以 application/json 发送 JSON 对象。");
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw invalidRequest(400, "InvalidParameter", "The request body must be a JSON object.", "请求体必须是 JSON 对象。");
  }
  return body as Record<string, unknown>;
}

export const unixSeconds = (date: Date = new Date()) => Math.floor(date.getTime() / 1000);

/** An image of a request that could not be made, as `failed` lists it when failed images are omitted. */
export type { FailedImage } from "@doubao-gateway/sdk";

export const FAILED_IMAGES_HEADER = "x-gateway-failed-images";

/**
 * How this request answers an image the upstream could not make: its `X-Gateway-Failed-Images` header (`inline`
 * or `omit`), else its key's `failed_images` setting, else `inline` (Ark's answer).
 */
export function failedImagesOf(request: FastifyRequest): FailedImages {
  const header = request.headers[FAILED_IMAGES_HEADER];
  if (header === undefined) return request.apiKey?.failedImages ?? "inline";
  const value = Array.isArray(header) ? header.join(",") : header.trim().toLowerCase();
  if (value === "inline" || value === "omit") return value;
  throw invalidParameter(
    "X-Gateway-Failed-Images",
    `Invalid parameter \`X-Gateway-Failed-Images\`: must be "inline" (a failed image is an error item at its place, as Ark answers) or "omit" (failed images are left out of data and listed in failed) (got ${JSON.stringify(value.slice(0, 40))}).`,
  );
}

/**
 * `stream: true` (LIVE-MODELS.md §2.4): `text/event-stream` at once — headers and a first comment line —
 * then a comment every `keepAliveMs` while the upstream is silent, so that no proxy or client times out
 * while the upstream holds its headers until the first image is done. Events are Ark's on `/doubao`
 * and OpenAI's on `/v1`; each image is stored (or encoded) before its event is written. A failure after
 * the stream began is an event and the end; the request is charged for the images delivered before it.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Admission } from "../accounts/accounts.js";
import { ClientGone, GatewayError, internalError } from "../errors/errors.js";
import { openStream, usageOf, type DeliveredImage, type GenerationJob, type PipelineDeps } from "./generate.js";
import type { ArkSeedreamCall } from "../providers/types.js";
import type { FailedImages } from "../stores/keys.js";
import { settleDelivered, unixSeconds, type FailedImage } from "./context.js";

export interface StreamOptions {
  /** `ark`: Ark's events (`/doubao`); `openai`: OpenAI's `image_generation.completed` per image (`/v1`). */
  flavour: "ark" | "openai";
  /** The `model` string the client sent, echoed in Ark's events. */
  clientModel: string;
  /** Comment interval while the upstream is silent; default 15 s. */
  keepAliveMs: number;
  /**
   * Ark's events only: `inline` — a failed image is a `partial_failed` event, as Ark sends it; `omit` — no event carries
   * an `error` key (Volcengine's Python SDK ends its iteration at one), the failures are listed in `completed.failed`.
   */
  failedImages: FailedImages;
}

const sizeText = (image: DeliveredImage) => `${image.width}x${image.height}`;

export async function streamToClient(
  target: { request: FastifyRequest; reply: FastifyReply; deps: PipelineDeps; admission: Admission },
  job: GenerationJob & { call: ArkSeedreamCall },
  options: StreamOptions,
): Promise<FastifyReply> {
  const { request, reply, deps, admission } = target;
  const raw = reply.raw;
  const headers = { ...(reply.getHeaders() as Record<string, string>), "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" };
  reply.hijack();
  raw.writeHead(200, headers);
  raw.write(": stream opened; images follow as they are made\n\n");
  const write = (text: string) => {
    if (!raw.destroyed) raw.write(text);
  };
  const send = (event: string, data: Record<string, unknown>) => write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  let lastWrite = Date.now();
  const timer = setInterval(() => {
    if (Date.now() - lastWrite >= options.keepAliveMs - 5) write(": keep-alive\n\n");
  }, options.keepAliveMs);
  timer.unref();

  const delivered: DeliveredImage[] = [];
  let usage: Record<string, unknown> | undefined;
  let provider: string | null = null;
  let failure: GatewayError | undefined;
  const failed: FailedImage[] = [];
  const omitFailed = options.flavour === "ark" && options.failedImages === "omit";
  let nextIndex = 0;
  try {
    const opened = await openStream(deps, job);
    provider = opened.provider.id;
    for await (const event of opened.events) {
      lastWrite = Date.now();
      if (event.type === "image") {
        nextIndex = event.index + 1;
        const { image } = event;
        if (raw.destroyed) break;
        delivered.push(image);
        if (options.flavour === "ark") {
          send("image_generation.partial_succeeded", {
            type: "image_generation.partial_succeeded", model: options.clientModel, created: unixSeconds(), image_index: event.index,
            ...(image.url !== undefined ? { url: image.url } : { b64_json: image.b64 }), size: sizeText(image),
          });
        } else {
          send("image_generation.completed", {
            type: "image_generation.completed", b64_json: image.b64, created_at: unixSeconds(), size: sizeText(image), output_format: image.format,
            image_index: event.index, ...(image.url !== undefined ? { url: image.url } : {}),
          });
        }
      } else if (event.type === "failed") {
        nextIndex = event.index + 1;
        failed.push({ image_index: event.index, code: event.error.code, message: event.error.message });
        if (omitFailed) write(`: image ${event.index} failed: ${event.error.code}; listed in the completed event\n\n`);
        else if (options.flavour === "ark") {
          send("image_generation.partial_failed", { type: "image_generation.partial_failed", model: options.clientModel, created: unixSeconds(), image_index: event.index, error: event.error });
        } else {
          // OpenAI's image stream has no per-image failure event, and its SDK throws on any `error` field: a comment says it.
          write(`: image ${event.index} failed: ${event.error.code}: ${event.error.message.replace(/[\r\n]+/g, " ")}\n\n`);
        }
      } else {
        usage = event.usage;
      }
    }
  } catch (error) {
    failure = error instanceof GatewayError ? error : error instanceof ClientGone || raw.destroyed ? undefined : internalError();
    if (!(error instanceof GatewayError) && failure) request.log.error({ err: error }, "stream failed");
  } finally {
    clearInterval(timer);
  }

  const clientGone = raw.destroyed;
  // The work is over: the slot is free before the stream's last event, as before a plain answer.
  await admission.release();
  if (!raw.destroyed) {
    if (failure && !omitFailed) {
      const error = { code: failure.code, message: failure.message };
      if (options.flavour === "ark") {
        send("image_generation.partial_failed", { type: "image_generation.partial_failed", model: options.clientModel, created: unixSeconds(), image_index: nextIndex, error });
        write("data: [DONE]\n\n");
      } else {
        send("error", { type: "error", error: { ...error, type: failure.type, param: failure.param } });
      }
    } else if (options.flavour === "ark") {
      // With failures omitted, a stream cut short by a failure still ends with `completed`: the failure is in `failed`.
      if (failure) failed.push({ image_index: nextIndex, code: failure.code, message: failure.message });
      send("image_generation.completed", {
        type: "image_generation.completed", model: options.clientModel, created: unixSeconds(), usage: usage ?? usageOf(delivered), ...(omitFailed ? { failed } : {}),
      });
      write("data: [DONE]\n\n");
    }
    raw.end();
  }
  // Charged for what reached the client or storage; a client that left is recorded as 499 when nothing did.
  if (delivered.length === 0) {
    await admission.fail(failure ?? (clientGone ? new ClientGone() : internalError()));
  } else {
    await settleDelivered(admission, {
      images: delivered, provider, upstreamRequestId: null, servedModel: job.model,
      errorCode: failure?.code ?? (clientGone ? "ClientClosedRequest" : failed.length > 0 ? "PartialFailure" : null),
    });
  }
  return reply;
}

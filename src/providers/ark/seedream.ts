/**
 * The Seedream 4.x/5.x protocol on Ark's `POST /images/generations` (LIVE-MODELS.md §1.3–§1.6): the
 * request body, the answer with per-item sizes and errors, the streamed events, and the no-cost model
 * probe. The 302.AI relay passes the same bodies and answers through, so both providers use this file.
 */
import { toDataUrl } from "../../images/data-url.js";
import { parseAnswer } from "../answer-json.js";
import type { SseMessage } from "../http.js";
import { fromBase64, isBase64, type ArkSeedreamCall, type ItemError, type ModelProbe, type ProviderImage, type ProviderResult, type StreamEvent } from "../types.js";
import { arkError, upstreamMalformed, type UpstreamError } from "../upstream-error.js";

/** The Ark body of a call; only the fields the client set (the model's defaults are the upstream's). */
export function seedreamBody(call: ArkSeedreamCall, responseFormat: "url" | "b64_json", stream: boolean): Record<string, unknown> {
  const images = call.images.map((image) => toDataUrl(image.bytes, image.format));
  const { mode, thinking } = call.optimizePrompt ?? {};
  const optimizePrompt = mode !== undefined || thinking !== undefined
    ? { ...(mode !== undefined ? { mode } : {}), ...(thinking !== undefined ? { thinking } : {}) }
    : undefined;
  return {
    model: call.model,
    prompt: call.prompt,
    ...(images.length === 1 ? { image: images[0] } : images.length > 1 ? { image: images } : {}),
    ...(call.size !== undefined ? { size: call.size } : {}),
    response_format: responseFormat,
    watermark: call.watermark,
    ...(optimizePrompt !== undefined ? { optimize_prompt_options: optimizePrompt } : {}),
    sequential_image_generation: call.sequential,
    ...(call.sequential === "auto" && call.maxImages !== undefined ? { sequential_image_generation_options: { max_images: call.maxImages } } : {}),
    ...(call.outputFormat !== undefined ? { output_format: call.outputFormat } : {}),
    ...(call.tools !== undefined ? { tools: call.tools } : {}),
    ...(stream ? { stream: true } : {}),
  };
}

interface SeedreamItem {
  url?: unknown;
  b64_json?: unknown;
  size?: unknown;
  output_format?: unknown;
  error?: { code?: unknown; message?: unknown };
}

const mediaTypeOf = (format: unknown) => (format === "png" ? "image/png" : "image/jpeg");

/** One answer item as an image (with its `size`), or undefined when it is neither url nor b64_json. */
function imageOf(item: SeedreamItem): ProviderImage | undefined {
  const size = typeof item.size === "string" ? { size: item.size } : {};
  if (isBase64(item.b64_json)) return { ...fromBase64(item.b64_json, mediaTypeOf(item.output_format)), ...size };
  if (typeof item.url === "string") return { url: item.url, mediaType: mediaTypeOf(item.output_format), ...size };
  return undefined;
}

const itemError = (index: number, error: SeedreamItem["error"]): ItemError => ({
  index,
  code: typeof error?.code === "string" ? error.code.slice(0, 100) : "InternalServiceError",
  message: typeof error?.message === "string" ? error.message.slice(0, 500) : "the upstream could not make this image",
});

/** The images and per-item errors of a 200 answer; when not one image was made, the first item's error as the request's. */
export function seedreamResult(json: unknown, upstream: string): ProviderResult {
  const answer = json as { data?: unknown; usage?: unknown } | undefined;
  if (!Array.isArray(answer?.data)) throw upstreamMalformed(upstream, "no data[] in a 200 answer");
  const images: ProviderImage[] = [];
  const errors: ItemError[] = [];
  (answer.data as SeedreamItem[]).forEach((item, index) => {
    const image = item && typeof item === "object" ? imageOf(item) : undefined;
    if (image) images.push(image);
    else if (item?.error) errors.push(itemError(index, item.error));
    else throw upstreamMalformed(upstream, "a data[] item has neither url, b64_json nor error");
  });
  if (images.length === 0) {
    const first = errors[0];
    if (!first) throw upstreamMalformed(upstream, "no image in a 200 answer");
    throw arkError(400, { error: { code: first.code, message: first.message } }, undefined, upstream);
  }
  const usage = answer.usage && typeof answer.usage === "object" ? (answer.usage as Record<string, unknown>) : undefined;
  return { images, upstreamRequestId: undefined, extras: undefined, errors, ...(usage ? { usage } : {}) };
}

/** The upstream's events as the gateway's: an image, a failed image, the end with `usage`. `[DONE]` ends the stream. */
export async function* seedreamEvents(messages: AsyncIterable<SseMessage>, upstream: string): AsyncGenerator<StreamEvent> {
  for await (const message of messages) {
    // The data as bytes (an image event's base64 never becomes a string: providers/answer-json.ts).
    if (message.data.length < 64 && message.data.toString().trim() === "[DONE]") return;
    let data: Record<string, unknown>;
    try {
      data = parseAnswer(message.data) as Record<string, unknown>;
    } catch {
      throw upstreamMalformed(upstream, "an event's data is not JSON");
    }
    if (!data || typeof data !== "object") throw upstreamMalformed(upstream, "an event's data is not a JSON object");
    const type = message.event ?? (typeof data.type === "string" ? data.type : "");
    const index = typeof data.image_index === "number" ? data.image_index : 0;
    if (type === "image_generation.partial_succeeded") {
      const image = imageOf(data as SeedreamItem);
      if (!image) throw upstreamMalformed(upstream, "a partial_succeeded event has neither url nor b64_json");
      yield { type: "image", index, image };
    } else if (type === "image_generation.partial_failed") {
      const { code, message: text } = itemError(index, data.error as SeedreamItem["error"]);
      yield { type: "failed", index, error: { code, message: text } };
    } else if (type === "image_generation.completed") {
      yield { type: "completed", usage: data.usage && typeof data.usage === "object" ? (data.usage as Record<string, unknown>) : undefined };
    } else if (data.error) {
      throw arkError(500, data, undefined, upstream);
    }
  }
}

/** The no-cost probe of LIVE-MODELS.md §1.6: a size no model accepts. */
export const probeBody = (model: string) => ({ model, prompt: "doubao-gateway model probe", size: "1x1", watermark: false });

/** What the probe's refusal says: a parameter error means the model is there; a 404 that it is not. */
export function probeVerdict(error: UpstreamError | undefined): ModelProbe {
  if (!error) return { state: "unknown", detail: "the upstream accepted a 1x1 request, which it should refuse" };
  if (error.upstreamStatus === 400) return { state: "live" };
  if (error.upstreamStatus === 404) return { state: error.code === "ModelNotOpen" ? "not-activated" : "retired" };
  return { state: "unknown", detail: error.message };
}

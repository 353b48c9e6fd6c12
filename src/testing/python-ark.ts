/**
 * Volcengine's Python SDKs as they are on the wire (they are not on the npm registry, so the tests replay them):
 * `volcenginesdkarkruntime` 5.0.42 (`Ark(...).images.generate`) and `arkruntime` 0.4.0, read from their source
 * (CLIENTS.md §1): the exact body — every field of the request type, each unset one as JSON null; `stream` only when
 * given; `extra_body` merged in — the headers, the retry rule, and how answers and stream events are parsed.
 */
import { randomBytes } from "node:crypto";

/** The 14 fields `volcenginesdkarkruntime` always sends, in its order (`resources/images/images.py`). */
export const ARK_SDK_FIELDS = [
  "model", "prompt", "image", "response_format", "size", "seed", "guidance_scale", "watermark", "optimize_prompt", "optimize_prompt_options",
  "sequential_image_generation", "sequential_image_generation_options", "tools", "output_format",
] as const;
/** `arkruntime` 0.4.0 sends these two as well. */
export const ARKRUNTIME_EXTRA_FIELDS = ["image_guidance_scale", "layer_decomposition"] as const;

export type SdkParams = Partial<Record<(typeof ARK_SDK_FIELDS)[number] | (typeof ARKRUNTIME_EXTRA_FIELDS)[number], unknown>> & { model: string; prompt: string };

/**
 * The body as the SDK builds it: every field present, `null` when the caller did not give it. Nested option objects are
 * pydantic dumps (`model_dump(mode="json")`), so their own unset fields are `null` too: `{"mode": null, "thinking": null}`.
 */
export function sdkBody(params: SdkParams, options: { stream?: boolean; sdk?: "volcenginesdkarkruntime" | "arkruntime"; extraBody?: Record<string, unknown> } = {}): Record<string, unknown> {
  const fields: readonly string[] = options.sdk === "arkruntime" ? [...ARK_SDK_FIELDS, ...ARKRUNTIME_EXTRA_FIELDS] : ARK_SDK_FIELDS;
  const body: Record<string, unknown> = {};
  for (const field of fields) body[field] = (params as Record<string, unknown>)[field] ?? null;
  const optimize = body.optimize_prompt_options as Record<string, unknown> | null;
  if (optimize) body.optimize_prompt_options = { mode: optimize.mode ?? null, thinking: optimize.thinking ?? null };
  const group = body.sequential_image_generation_options as Record<string, unknown> | null;
  if (group) body.sequential_image_generation_options = { max_images: group.max_images ?? null };
  if (options.stream !== undefined) body.stream = options.stream;
  return { ...body, ...options.extraBody };
}

/** What the SDK raises: `ArkBadRequestError` (400), `ArkAuthenticationError` (401), … with `body` = the answer's `error`. */
export class ArkSdkError extends Error {
  constructor(readonly status: number, readonly body: unknown, message: string) {
    super(message);
    this.name = status === 400 ? "ArkBadRequestError" : status === 401 ? "ArkAuthenticationError" : status === 429 ? "ArkRateLimitError" : status >= 500 ? "ArkInternalServerError" : status === 0 ? "ArkAPIError" : "ArkAPIStatusError";
  }
}

export interface SdkCall {
  extraHeaders?: Record<string, string>;
  extraBody?: Record<string, unknown>;
  sdk?: "volcenginesdkarkruntime" | "arkruntime";
}

export interface SdkAttempt {
  status: number;
  clientRequestId: string;
  headers: Headers;
}

/**
 * A generated `X-Client-Request-Id` as `_gen_request_id()` makes it — the time as 14 digits, then 20 random letters and
 * digits — anew for every attempt (`default_headers()` runs in each `_build_request`).
 */
const ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const clientRequestId = () =>
  `${new Date().toISOString().replace(/\D/g, "").slice(0, 14)}${Array.from(randomBytes(20), (byte) => ID_CHARS[byte % ID_CHARS.length]).join("")}`;

/**
 * `Ark(base_url=…, api_key=…, max_retries=…)`: `images.generate` posts `{base_url}/images/generations` and retries
 * as `_should_retry` says — the answer's `x-should-retry: true|false` first, else 408, 409, 429 and ≥ 500 — with a
 * fresh request id each attempt; it never reads `Retry-After` (its own 0.5 s → 8 s backoff; not slept here).
 */
export function pythonArk(options: { baseUrl: string; apiKey: string; maxRetries?: number }) {
  const attempts: SdkAttempt[] = [];
  const maxRetries = options.maxRetries ?? 2;
  const shouldRetry = (response: Response) => {
    const header = response.headers.get("x-should-retry");
    if (header === "true") return true;
    if (header === "false") return false;
    return [408, 409, 429].includes(response.status) || response.status >= 500;
  };
  async function send(body: Record<string, unknown>, call: SdkCall): Promise<Response> {
    for (let retries = maxRetries; ; retries -= 1) {
      const id = clientRequestId();
      const headers: Record<string, string> = {
        Accept: "application/json", "Content-Type": "application/json", "User-Agent": "volc-sdk-python/5.0.42", "X-Client-Request-Id": id,
        Authorization: `Bearer ${options.apiKey}`, ...call.extraHeaders,
      };
      let response: Response;
      try {
        response = await fetch(`${options.baseUrl.replace(/\/$/, "")}/images/generations`, { method: "POST", headers, body: JSON.stringify(body) });
      } catch (error) {
        if (retries > 0) continue;
        throw new ArkSdkError(0, undefined, `Connection error: ${(error as Error).message}`);
      }
      attempts.push({ status: response.status, clientRequestId: headers["X-Client-Request-Id"] as string, headers: response.headers });
      if (response.ok) return response;
      if (retries > 0 && shouldRetry(response)) {
        await response.arrayBuffer();
        continue;
      }
      const text = (await response.text()).trim();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // the SDK keeps the text as the body
      }
      const data = parsed && typeof parsed === "object" && "error" in parsed ? (parsed as { error: unknown }).error : parsed;
      throw new ArkSdkError(response.status, data, `Error code: ${response.status} - ${text}`);
    }
  }
  return {
    attempts,
    images: {
      /** `client.images.generate(**params)`: the answer as the SDK's lenient pydantic model reads it (a plain object). */
      async generate(params: SdkParams, call: SdkCall = {}): Promise<Record<string, unknown>> {
        const response = await send(sdkBody(params, { ...(call.sdk ? { sdk: call.sdk } : {}), ...(call.extraBody ? { extraBody: call.extraBody } : {}) }), call);
        return (await response.json()) as Record<string, unknown>;
      },
      /** `client.images.generate(..., stream=True)`: the events the iteration yields; it raises where the SDK's `Stream` does. */
      async stream(params: SdkParams, call: SdkCall = {}): Promise<Array<Record<string, unknown>>> {
        const response = await send(sdkBody(params, { ...(call.sdk ? { sdk: call.sdk } : {}), ...(call.extraBody ? { extraBody: call.extraBody } : {}), stream: true }), call);
        return readSdkStream(await response.text());
      },
    },
  };
}

/**
 * The SDK's `Stream.__stream__`: server-sent events, `:` lines skipped, `data: [DONE]` ends it, every data must be
 * JSON, and an event whose JSON has a truthy `error` raises `ArkAPIError` — the iteration ends there.
 */
export function readSdkStream(text: string): Array<Record<string, unknown>> {
  const events: Array<Record<string, unknown>> = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data = block.split(/\r?\n/).filter((line) => line.startsWith("data:")).map((line) => line.slice(5).replace(/^ /, "")).join("\n");
    if (data === "") continue;
    if (data.startsWith("[DONE]")) return events;
    const event = JSON.parse(data) as Record<string, unknown>;
    if (event.error) throw new ArkSdkError(0, event.error, `An error occurred during streaming: ${JSON.stringify(event.error)}`);
    events.push(event);
  }
  return events;
}

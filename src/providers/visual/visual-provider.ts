/**
 * Volcengine Visual `CVProcess` (UPSTREAMS.md §2): general text-to-image v2.x and the portrait photo,
 * signed with HMAC-SHA256 afresh for every request.
 *
 * Portrait input goes as `binary_data_base64`: the gateway already holds the checked bytes, the client's
 * copy may be a data URL or on a private network, and no public URL of ours has to be exposed.
 */
import { DRAWING_REQ_KEYS, GENERAL_3_REQ_KEY, PORTRAIT_MODEL } from "../../api/models.js";
import { postJson, runCheck, type CallLimits, type FetchFunction, type UpstreamResponse } from "../http.js";
import { fromBase64, isBase64, type Base64Bytes, type CallOptions, type Provider, type ProviderCall, type ProviderImage, type ProviderResult, type VisualExtras, placement, type AccountPlacement } from "../types.js";
import type { UpstreamError } from "../upstream-error.js";
import { upstreamMalformed, visualBusinessError, visualGatewayError } from "../upstream-error.js";
import { formatXDate, sha256Hex, sign } from "./sign.js";

export interface VisualProviderOptions extends AccountPlacement {
  /** `VOLC_ACCESSKEY`. */
  accessKeyId: string;
  /** `VOLC_SECRETKEY`. */
  secretAccessKey: string;
  /** `VOLC_VISUAL_BASE_URL`, default `https://visual.volcengineapi.com`. */
  baseUrl: string;
  region?: string;
  service?: string;
  label?: string;
  fetch?: FetchFunction;
  now?: () => Date;
}

export const CV_QUERY = { Action: "CVProcess", Version: "2022-08-31" } as const;

/** The `CVProcess` body for a call (exported for the emulator's tests). */
export function visualBody(call: ProviderCall, returnUrl: boolean): Record<string, unknown> {
  if (call.operation === "visual.drawing") {
    const v21 = call.modelVersion === "general_v2.1_L";
    const v20 = call.modelVersion === "general_v2.0";
    return {
      req_key: DRAWING_REQ_KEYS[call.modelVersion],
      prompt: call.prompt,
      model_version: call.modelVersion,
      ...(v20 ? {} : { req_schedule_conf: call.reqScheduleConf }),
      ...(v21 ? { llm_seed: call.llmSeed } : {}),
      seed: call.seed,
      scale: call.scale,
      ddim_steps: call.ddimSteps,
      width: call.width,
      height: call.height,
      ...(v20 ? {} : { use_pre_llm: call.usePreLlm }),
      use_sr: call.useSr,
      ...(v21 ? { sr_seed: call.srSeed, sr_strength: call.srStrength, sr_scale: call.srScale, sr_steps: call.srSteps, is_only_sr: call.isOnlySr } : {}),
      return_url: returnUrl,
      logo_info: call.logo,
    };
  }
  if (call.operation === "visual.general3") {
    return {
      req_key: GENERAL_3_REQ_KEY, prompt: call.prompt, use_pre_llm: call.usePreLlm, seed: call.seed, scale: call.scale, width: call.width, height: call.height,
      return_url: returnUrl, logo_info: call.logo,
    };
  }
  if (call.operation === "visual.portrait") {
    return {
      req_key: PORTRAIT_MODEL,
      binary_data_base64: [call.image.bytes.toString("base64")],
      ...(call.prompt ? { prompt: call.prompt } : {}),
      width: call.width,
      height: call.height,
      gpen: call.gpen,
      skin: call.skin,
      skin_unifi: call.skinUnifi,
      gen_mode: call.genMode,
      seed: call.seed,
      return_url: returnUrl,
    };
  }
  throw new Error(`visual provider cannot serve ${call.operation}`);
}

interface VisualAnswer {
  ResponseMetadata?: { Error?: { CodeN?: unknown; Code?: unknown; Message?: unknown } };
  code?: unknown;
  message?: unknown;
  data?: {
    image_urls?: unknown;
    binary_data_base64?: unknown;
    llm_result?: unknown;
    pe_result?: unknown;
    predict_tags_result?: unknown;
    rephraser_result?: unknown;
    vlm_result?: unknown;
    request_id?: unknown;
  } | null;
  request_id?: unknown;
}

const text = (value: unknown) => (typeof value === "string" ? value : "");
const strings = (value: unknown) => (Array.isArray(value) ? value.filter((item): item is string => typeof item === "string" && item.length > 0) : []);
/** The same for base64 items, as strings or as bytes decoded on reading (providers/answer-json.ts). */
const base64Items = (value: unknown) => (Array.isArray(value) ? value.filter((item): item is string | Base64Bytes => isBase64(item) && item !== "") : []);

/** Codes that mean the AK/SK or the signature were refused. */
const CREDENTIAL_CODES = new Set([100009, 100010, 100024, 100025, 100026, 50400]);

/** The failure in a Visual answer, or `undefined` for a code-10000 answer. */
export function visualAnswerError(response: UpstreamResponse, upstream = "Visual"): UpstreamError | undefined {
  const answer = response.json as VisualAnswer | undefined;
  const gatewayError = answer?.ResponseMetadata?.Error;
  if (gatewayError) {
    return visualGatewayError(response.status, Number(gatewayError.CodeN) || 0, text(gatewayError.Code) || "UnknownError", text(gatewayError.Message), response.retryAfter);
  }
  if (!answer || typeof answer.code !== "number") return upstreamMalformed(upstream, `HTTP ${response.status} without a numeric code`);
  if (answer.code !== 10000) return visualBusinessError(response.status, answer.code, text(answer.message), response.retryAfter, upstream);
  return undefined;
}

/** The images and text results of a code-10000 answer (Visual itself, or the 302.AI relay passing it through). */
export function visualAnswerResult(response: UpstreamResponse, upstream = "Visual"): ProviderResult {
  const answer = response.json as VisualAnswer;
  const data = answer.data ?? {};
  const images: ProviderImage[] = [
    ...base64Items(data.binary_data_base64).map((b64) => fromBase64(b64)),
    ...strings(data.image_urls).map((url) => ({ url, mediaType: "image/jpeg" })),
  ];
  if (images.length === 0) throw upstreamMalformed(upstream, "code 10000 without any image");
  const extras: VisualExtras = {
    llm_result: text(data.llm_result), pe_result: text(data.pe_result), predict_tags_result: text(data.predict_tags_result),
    rephraser_result: text(data.rephraser_result), vlm_result: text(data.vlm_result), request_id: text(data.request_id),
  };
  return { images, upstreamRequestId: text(answer.request_id) || undefined, extras };
}

export function createVisualProvider(options: VisualProviderOptions): Provider {
  const base = new URL(options.baseUrl);
  const endpoint = new URL(`/?${new URLSearchParams(CV_QUERY).toString()}`, base).toString();
  // The shared undici pool unless a fetch is injected.
  const fetchFunction = options.fetch;
  const now = options.now ?? (() => new Date());
  /** Signs afresh (X-Date and signature) for every request, retries included. */
  const send = (body: string, limits: CallLimits) => {
    const payloadHash = sha256Hex(body);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      host: base.host,
      "x-date": formatXDate(now()),
      "x-content-sha256": payloadHash,
    };
    const { authorization } = sign({
      method: "POST", path: "/", query: CV_QUERY, headers, payloadHash,
      accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey,
      region: options.region ?? "cn-north-1", service: options.service ?? "cv",
    });
    const { host: _host, ...sent } = headers;
    return postJson(fetchFunction, "Visual", endpoint, { ...sent, authorization }, body, limits);
  };
  return {
    ...placement("visual", options),
    label: options.label ?? options.id ?? "visual",
    families: ["visual"],
    origin: base.origin,
    drawsMarks: true,
    async generate(call: ProviderCall, callOptions: CallOptions): Promise<ProviderResult> {
      const response = await send(JSON.stringify(visualBody(call, callOptions.delivery === "url")), callOptions);
      const error = visualAnswerError(response);
      if (error) throw error;
      return visualAnswerResult(response);
    },
    // No prompt: Visual refuses it with 50201 only after the signature and the AK are accepted.
    check: (signal) =>
      runCheck(
        () => send(JSON.stringify({ req_key: DRAWING_REQ_KEYS["general_v2.1_L"], width: 1, height: 1 }), { signal }),
        (response) => visualAnswerError(response),
        (error) => CREDENTIAL_CODES.has(error.upstreamCode ?? 0),
      ),
  };
}

/**
 * The 302.AI relay (302AI-NOTES.md): the same Doubao endpoints on api.302.ai, Bearer `API302_KEY`.
 * 302 answers in three shapes, all read here: Ark's (images, and Ark errors passed through), the
 * Volcengine envelope (drawing, portrait, and Visual errors passed through), and its own error object
 * `{"error":{"err_code",…}}`.
 *
 * Decisions: results are always asked for as URLs, as 302's own SDK does (302 re-hosts them on
 * file.302.ai; whether every relay endpoint passes base64 through is not documented), and the gateway
 * re-hosts them. Marks are drawn by the gateway (`drawsMarks: false`): whether 302 forwards `watermark`
 * and `logo_info` to Volcengine is not documented, and a mark must be neither lost nor doubled.
 */
import { GENERAL_3_MODEL } from "../../api/models.js";
import { toDataUrl } from "../../images/data-url.js";
import { ARK_CHECK_BODY, arkResult } from "../ark/ark-provider.js";
import { postForEvents, postJson, runCheck, type CallLimits, type FetchFunction, type UpstreamResponse } from "../http.js";
import { probeBody, probeVerdict, seedreamBody, seedreamEvents, seedreamResult } from "../ark/seedream.js";
import { placement, type AccountPlacement, type CallOptions, type Provider, type ProviderCall, type ProviderResult } from "../types.js";
import { arkError, relay302Error, upstreamMalformed, type UpstreamError } from "../upstream-error.js";
import { visualAnswerError, visualAnswerResult, visualBody } from "../visual/visual-provider.js";

export interface Relay302ProviderOptions extends AccountPlacement {
  /** `API302_KEY`. */
  apiKey: string;
  /** `API302_BASE_URL`, default `https://api.302.ai`. */
  baseUrl: string;
  label?: string;
  fetch?: FetchFunction;
}

const UPSTREAM = "302.AI";

/** The request 302 gets for a call: its path and JSON body. */
export function relayRequest(call: ProviderCall): { path: string; body: Record<string, unknown> } {
  if (call.operation === "ark.seedream") return { path: "/doubao/images/generations", body: seedreamBody(call, "url", false) };
  if (call.operation === "ark.images") {
    return {
      path: "/doubao/images/generations",
      body: {
        model: call.model, prompt: call.prompt, ...(call.image ? { image: toDataUrl(call.image.bytes, call.image.format) } : {}),
        size: call.size, seed: call.seed, guidance_scale: call.guidanceScale, watermark: call.watermark, response_format: "url",
      },
    };
  }
  if (call.operation === "visual.drawing") {
    const { req_key: _reqKey, ...body } = visualBody(call, true);
    return { path: "/doubao/drawing", body };
  }
  if (call.operation === "visual.general3") {
    // 302.AI names general 3.0 by its model_version on the drawing path (VISUAL-ASYNC.md §4).
    const { req_key: _reqKey, ...body } = visualBody(call, true);
    return { path: "/doubao/drawing", body: { ...body, model_version: GENERAL_3_MODEL } };
  }
  return {
    path: "/doubao/drawing/portrait?response_format=url",
    body: {
      image_input: toDataUrl(call.image.bytes, call.image.format), ...(call.prompt ? { prompt: call.prompt } : {}), width: call.width, height: call.height,
      gpen: call.gpen, skin: call.skin, skin_unifi: call.skinUnifi, gen_mode: call.genMode, seed: call.seed,
    },
  };
}

interface RelayAnswer {
  error?: { err_code?: unknown; code?: unknown; message?: unknown };
  code?: unknown;
  ResponseMetadata?: unknown;
}

/** The failure in a 302 answer, whichever of its three shapes it has; `undefined` for a success. */
export function relayAnswerError(response: UpstreamResponse): UpstreamError | undefined {
  const answer = response.json as RelayAnswer | undefined;
  if (typeof answer?.error?.err_code === "number") {
    return relay302Error(response.status, answer.error.err_code, typeof answer.error.message === "string" ? answer.error.message : "", response.retryAfter);
  }
  if (typeof answer?.error?.code === "string") return arkError(response.status, answer, response.retryAfter, UPSTREAM);
  if (typeof answer?.code === "number" || answer?.ResponseMetadata) return visualAnswerError(response, UPSTREAM);
  if (response.status !== 200) return arkError(response.status, undefined, response.retryAfter, UPSTREAM);
  return undefined;
}

const CREDENTIAL_CODES = new Set([-10001, -10002, -10005]);

export function createRelay302Provider(options: Relay302ProviderOptions): Provider {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  // The shared undici pool unless a fetch is injected.
  const fetchFunction = options.fetch;
  const headers = { authorization: `Bearer ${options.apiKey}`, "content-type": "application/json" };
  const send = (path: string, body: unknown, limits: CallLimits) => postJson(fetchFunction, UPSTREAM, `${baseUrl}${path}`, headers, JSON.stringify(body), limits);
  const imagesPath = "/doubao/images/generations";
  return {
    ...placement("302ai", options),
    label: options.label ?? options.id ?? "302ai",
    families: ["ark", "visual"],
    origin: new URL(baseUrl).origin,
    drawsMarks: false,
    async generate(call: ProviderCall, callOptions: CallOptions): Promise<ProviderResult> {
      const { path, body } = relayRequest(call);
      const response = await send(path, body, callOptions);
      const error = relayAnswerError(response);
      if (error) throw error;
      if (call.operation === "ark.seedream") return seedreamResult(response.json, UPSTREAM);
      return call.operation === "ark.images" ? arkResult(response.json, UPSTREAM) : visualAnswerResult(response, UPSTREAM);
    },
    async stream(call, callOptions) {
      const answer = await postForEvents(fetchFunction, UPSTREAM, `${baseUrl}${imagesPath}`, headers, JSON.stringify(seedreamBody(call, "url", true)), callOptions);
      if ("events" in answer) return seedreamEvents(answer.events, UPSTREAM);
      throw relayAnswerError(answer) ?? upstreamMalformed(UPSTREAM, "a stream request was answered with JSON, not events");
    },
    async probeModel(model, signal) {
      const response = await send(imagesPath, probeBody(model), { signal });
      return probeVerdict(relayAnswerError(response));
    },
    check: (signal) =>
      runCheck(
        () => send("/doubao/images/generations", ARK_CHECK_BODY, { signal }),
        relayAnswerError,
        (error) => CREDENTIAL_CODES.has(error.upstreamCode ?? 0) || error.upstreamStatus === 401,
      ),
  };
}

/** Volcengine Ark Images (UPSTREAMS.md §1): Seedream 3.0 and SeedEdit 3.0 over `POST /images/generations`, Bearer key. */
import { toDataUrl } from "../../images/data-url.js";
import { postForEvents, postJson, runCheck, type FetchFunction } from "../http.js";
import { fromBase64, isBase64, placement, type AccountPlacement, type CallOptions, type Provider, type ProviderCall, type ProviderImage, type ProviderResult } from "../types.js";
import { probeBody, probeVerdict, seedreamBody, seedreamEvents, seedreamResult } from "./seedream.js";
import { ARK_MODEL_GONE, arkError, upstreamMalformed } from "../upstream-error.js";

export interface ArkProviderOptions extends AccountPlacement {
  /** `ARK_API_KEY`. */
  apiKey: string;
  /** `ARK_BASE_URL`, default `https://ark.cn-beijing.volces.com/api/v3`. */
  baseUrl: string;
  /** Reported in `x-gateway-provider`; default the account's id. */
  label?: string;
  /**
   * The account's own id of a model (canonical id → upstream id): BytePlus ModelArk's names (`seedream-4-5-251128`), a
   * custom inference endpoint (`ep-…`). A model not listed is sent by its canonical id. Answers keep the client's id.
   */
  modelIds?: Readonly<Record<string, string>>;
  fetch?: FetchFunction;
}

interface ArkSuccess {
  data?: Array<{ url?: unknown; b64_json?: unknown }>;
}

/** The images of an Ark success body (Ark itself, or the 302.AI relay passing it through). */
export function arkResult(json: unknown, upstream: string): ProviderResult {
  const items = (json as ArkSuccess | undefined)?.data;
  if (!Array.isArray(items) || items.length === 0) throw upstreamMalformed(upstream, "no data[] in a 200 answer");
  const images: ProviderImage[] = items.map((item) => {
    if (isBase64(item.b64_json)) return fromBase64(item.b64_json);
    if (typeof item.url === "string") return { url: item.url, mediaType: "image/jpeg" };
    throw upstreamMalformed(upstream, "a data[] item has neither url nor b64_json");
  });
  return { images, upstreamRequestId: undefined, extras: undefined };
}

/** A request Ark refuses for its parameters (a 1x1 size) once the key is accepted (LIVE-MODELS.md §1.6). */
export const ARK_CHECK_BODY = { model: "doubao-seedream-4-5-251128", prompt: "doubao-gateway credential check", size: "1x1", watermark: false };

export function createArkProvider(options: ArkProviderOptions): Provider {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  // The shared undici pool unless a fetch is injected.
  const fetchFunction = options.fetch;
  const headers = { authorization: `Bearer ${options.apiKey}`, "content-type": "application/json" };
  const placed = placement("ark", options);
  const upstreamId = (model: string) => options.modelIds?.[model] ?? model;
  // The check asks about a model this account serves, by its own id for it (a BytePlus name, an `ep-` endpoint).
  const checkModel = upstreamId(options.models?.[0] ?? ARK_CHECK_BODY.model);
  const checkBody = JSON.stringify({ ...ARK_CHECK_BODY, model: checkModel });
  return {
    ...placed,
    label: options.label ?? placed.id,
    families: ["ark"],
    origin: new URL(baseUrl).origin,
    drawsMarks: true,
    check: (signal) =>
      runCheck(
        () => postJson(fetchFunction, "Ark", `${baseUrl}/images/generations`, headers, checkBody, { signal }),
        (response) => (response.status === 200 ? undefined : arkError(response.status, response.json, response.retryAfter)),
        (error) => error.upstreamStatus === 401,
        // Ark authenticates the key before it looks at the model: an account without the check's model activated (one
        // on Seedream 4.0 or 5.0 only) has had its credentials accepted; the per-model probes say which models are live.
        (error) =>
          error.upstreamStatus === 404 && ARK_MODEL_GONE.test(error.code)
            ? `credentials accepted; the check's model ${checkModel} is not live for this account (${error.code}), which says nothing of the others — see the models below`
            : undefined,
      ),
    async probeModel(model, signal) {
      const response = await postJson(fetchFunction, "Ark", `${baseUrl}/images/generations`, headers, JSON.stringify(probeBody(upstreamId(model))), { signal });
      return probeVerdict(response.status === 200 ? undefined : arkError(response.status, response.json, response.retryAfter));
    },
    async stream(call, callOptions) {
      const body = JSON.stringify(seedreamBody({ ...call, model: upstreamId(call.model) }, callOptions.delivery === "inline" ? "b64_json" : "url", true));
      const answer = await postForEvents(fetchFunction, "Ark", `${baseUrl}/images/generations`, headers, body, callOptions);
      if ("events" in answer) return seedreamEvents(answer.events, "Ark");
      if (answer.status !== 200) throw arkError(answer.status, answer.json, answer.retryAfter);
      throw upstreamMalformed("Ark", "a stream request was answered with JSON, not events");
    },
    async generate(call: ProviderCall, callOptions: CallOptions): Promise<ProviderResult> {
      if (call.operation === "ark.seedream") {
        const body = JSON.stringify(seedreamBody({ ...call, model: upstreamId(call.model) }, callOptions.delivery === "inline" ? "b64_json" : "url", false));
        const response = await postJson(fetchFunction, "Ark", `${baseUrl}/images/generations`, headers, body, callOptions);
        if (response.status !== 200) throw arkError(response.status, response.json, response.retryAfter);
        return seedreamResult(response.json, "Ark");
      }
      if (call.operation !== "ark.images") throw new Error(`ark provider cannot serve ${call.operation}`);
      const body = JSON.stringify({
        model: upstreamId(call.model),
        prompt: call.prompt,
        ...(call.image ? { image: toDataUrl(call.image.bytes, call.image.format) } : {}),
        size: call.size,
        seed: call.seed,
        guidance_scale: call.guidanceScale,
        watermark: call.watermark,
        response_format: callOptions.delivery === "inline" ? "b64_json" : "url",
      });
      const response = await postJson(fetchFunction, "Ark", `${baseUrl}/images/generations`, headers, body, callOptions);
      if (response.status !== 200) throw arkError(response.status, response.json, response.retryAfter);
      return arkResult(response.json, "Ark");
    },
  };
}

/**
 * The provider contract. A provider only speaks its upstream's protocol: fan-out, input fetching,
 * storage, usage and timeouts live in the pipeline around it (pipeline/generate.ts).
 */
import type { ArkModelId, DrawingModelVersion } from "../api/models.js";
import type { LogoInfo } from "../api/schemas.js";
import type { InputFormat } from "../images/inspect.js";
import type { ModelFamily } from "../models/types.js";
import type { CallLimits } from "./http.js";

/** A checked input image (images/inspect.ts). */
export interface InputImage {
  bytes: Buffer;
  format: InputFormat;
  width: number;
  height: number;
}

/** Ark `POST /images/generations` (Seedream 3.0, SeedEdit 3.0). */
export interface ArkImagesCall {
  operation: "ark.images";
  model: ArkModelId;
  prompt: string;
  /** `"<W>x<H>"` or `"adaptive"`. */
  size: string;
  seed: number;
  guidanceScale: number;
  watermark: boolean;
  image: InputImage | undefined;
}

/** Ark `POST /images/generations` for the Seedream 4.x/5.x family (LIVE-MODELS.md §1.3). */
export interface ArkSeedreamCall {
  operation: "ark.seedream";
  /** The upstream model id. */
  model: string;
  prompt: string;
  /** Reference images, in order (none for text-to-image). */
  images: InputImage[];
  /** A keyword (`2K`) or `"<W>x<H>"`; undefined: the model's default. */
  size: string | undefined;
  watermark: boolean;
  /** `optimize_prompt_options` as the client set it (`mode`, and 5.0 Pro's `thinking`); undefined when unset. */
  optimizePrompt: { mode?: string | undefined; thinking?: string | undefined } | undefined;
  sequential: "disabled" | "auto";
  maxImages: number | undefined;
  outputFormat: "jpeg" | "png" | undefined;
  tools: Array<{ type: string }> | undefined;
}

/** Visual `CVProcess` general text-to-image. */
export interface VisualDrawingCall {
  operation: "visual.drawing";
  modelVersion: DrawingModelVersion;
  prompt: string;
  reqScheduleConf: string;
  llmSeed: number;
  seed: number;
  scale: number;
  ddimSteps: number;
  width: number;
  height: number;
  usePreLlm: boolean;
  useSr: boolean;
  srSeed: number;
  srStrength: number;
  srScale: number;
  srSteps: number;
  isOnlySr: boolean;
  logo: LogoInfo;
}

/** Visual `CVProcess` general 3.0 (`req_key: high_aes_general_v30l_zt2i`): fewer fields than v2.x, no super-resolution. */
export interface VisualGeneral3Call {
  operation: "visual.general3";
  prompt: string;
  usePreLlm: boolean;
  seed: number;
  scale: number;
  width: number;
  height: number;
  logo: LogoInfo;
}

/** Visual `CVProcess` with `req_key: i2i_portrait_photo`. */
export interface VisualPortraitCall {
  operation: "visual.portrait";
  image: InputImage;
  prompt: string | undefined;
  width: number;
  height: number;
  gpen: number;
  skin: number;
  skinUnifi: number;
  genMode: "creative" | "reference" | "reference_char";
  seed: number;
}

export type ProviderCall = ArkImagesCall | ArkSeedreamCall | VisualDrawingCall | VisualGeneral3Call | VisualPortraitCall;

/** The request's signal and the attempt's deadline (providers/http.ts CallLimits), and how the images come back. */
export interface CallOptions extends CallLimits {
  /** `inline`: image bytes in the answer (no second download); `url`: the upstream's own URLs. */
  delivery: "inline" | "url";
}

/**
 * An image from an upstream: bytes (with the upstream's own base64, when it sent base64), or a URL to
 * download; `size` is the upstream's `"WxH"` when it said.
 */
export type ProviderImage = ({ bytes: Buffer; base64?: string; mediaType: string } | { url: string; mediaType: string }) & { size?: string };

/** A base64 field of an upstream's answer already decoded from the body's bytes (providers/answer-json.ts). */
export class Base64Bytes {
  constructor(readonly bytes: Buffer) {}
}

/** Whether a field of an upstream's answer is base64: a string, or one decoded on reading. */
export const isBase64 = (value: unknown): value is string | Base64Bytes => typeof value === "string" || value instanceof Base64Bytes;

/**
 * The image of a base64 field. A string is kept so that a `b64_json` answer need not encode the bytes again;
 * bytes decoded on reading are encoded again only if a client asks for base64.
 */
export function fromBase64(value: string | Base64Bytes, mediaType = "image/jpeg"): ProviderImage {
  if (value instanceof Base64Bytes) return { bytes: value.bytes, mediaType };
  return { bytes: Buffer.from(value, "base64"), base64: value, mediaType };
}

/** An image the upstream could not make, at its place in the answer (a group image refused by moderation). */
export interface ItemError {
  index: number;
  code: string;
  message: string;
}

/** One event of a streamed generation (LIVE-MODELS.md §1.5), in upstream order. */
export type StreamEvent =
  | { type: "image"; index: number; image: ProviderImage }
  | { type: "failed"; index: number; error: { code: string; message: string } }
  | { type: "completed"; usage: Record<string, unknown> | undefined };

/** Visual's extra text results, passed through in the envelope's `data`. */
export interface VisualExtras {
  llm_result: string;
  pe_result: string;
  predict_tags_result: string;
  rephraser_result: string;
  vlm_result: string;
  request_id: string;
}

export interface ProviderResult {
  images: ProviderImage[];
  upstreamRequestId: string | undefined;
  extras: VisualExtras | undefined;
  /** Images the upstream could not make, by their index in its answer (the images fill the other places in order). */
  errors?: ItemError[];
  /** The upstream's `usage`, as it sent it. */
  usage?: Record<string, unknown>;
}

/** What a model probe (LIVE-MODELS.md §1.6) learned: the upstream's verdict on one model, at no cost. */
export type ModelProbe = { state: "live" | "not-activated" | "retired" } | { state: "unknown"; detail: string };

/** An upstream protocol; also the id of its account when the environment's one-account shorthand configures it. */
export type ProviderId = "ark" | "visual" | "302ai";

/** Where an account sits among those of its protocol (GATEWAY_CONFIG `upstreams:`); the shorthand's defaults when absent. */
export interface AccountPlacement {
  /** The account's id (breakers, metrics, the ledger and `/ready` name it); the protocol's name by default. */
  id?: string;
  /** Its share of the requests among the accounts of its priority; default 1. */
  weight?: number;
  /** Accounts of priority 1 are tried first, then 2, …; default 1. */
  priority?: number;
  /** The models (canonical ids) it serves; every model of its protocol when absent. */
  models?: readonly string[];
  /** What the gateway sends it at most, across every gateway sharing REDIS_URL; none when absent. */
  limits?: AccountLimits;
}

export interface AccountLimits {
  /** Requests in any 60 s. */
  rpm?: number | undefined;
  /** Images asked in any 60 s (a group's most images count whole). */
  ipm?: number | undefined;
  /** Requests in flight at once. */
  concurrency?: number | undefined;
}

/** The placement of an account of `protocol`, its defaults filled in. */
export function placement(protocol: ProviderId, options: AccountPlacement): Pick<Provider, "id" | "protocol" | "weight" | "priority" | "models" | "limits"> {
  return {
    id: options.id ?? protocol, protocol, weight: options.weight ?? 1, priority: options.priority ?? 1, models: options.models ? new Set(options.models) : undefined,
    limits: options.limits && Object.values(options.limits).some((limit) => limit !== undefined) ? options.limits : undefined,
  };
}

/** What `doubao-gateway check` learns about one upstream without generating a paid image. */
export interface CheckReport {
  /** Reachable, credentials accepted, and nothing else wrong with the account. */
  ok: boolean;
  reachable: boolean;
  /** `accepted`: the upstream got past authentication and refused only the deliberately invalid parameter. */
  credentials: "accepted" | "rejected" | "unknown";
  /** One line for the operator: what was seen, and what to do when it is wrong. */
  detail: string;
}

export interface Provider {
  /** The account's id (the protocol's name for the one-account shorthand). */
  id: string;
  protocol: ProviderId;
  /** Its share of the requests among the accounts of its protocol and priority. */
  weight: number;
  /** Lower is tried first, among the accounts of one protocol. */
  priority: number;
  /** The models (canonical ids) it serves; all of its families' when undefined. */
  models: ReadonlySet<string> | undefined;
  /** Its rate and concurrency limits (resilience.ts passes over an account at one); none when undefined. */
  limits: AccountLimits | undefined;
  /** What `x-gateway-provider` says: the id, or `emulator` when pointed at the emulator. */
  label: string;
  families: readonly ModelFamily[];
  /** The configured upstream origin; result URLs on it may be downloaded even on loopback. */
  origin: string;
  /** Whether the upstream draws `watermark` / `logo_info` marks itself; if not, the gateway draws them. */
  drawsMarks: boolean;
  generate(call: ProviderCall, options: CallOptions): Promise<ProviderResult>;
  /**
   * A streamed generation (Ark family only). Resolves once the upstream has accepted the request (its
   * 200 headers), so failures before that are retried like any other; the events follow.
   */
  stream?(call: ArkSeedreamCall, options: CallOptions): Promise<AsyncIterable<StreamEvent>>;
  /** Whether a model is live for this account, by a request the upstream refuses at no cost (Ark family only). */
  probeModel?(model: string, signal: AbortSignal): Promise<ModelProbe>;
  /** Reachability and credentials, by a request the upstream must refuse for a parameter after authenticating it. */
  check(signal: AbortSignal): Promise<CheckReport>;
}

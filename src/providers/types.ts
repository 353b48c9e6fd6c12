/**
 * The provider contract. A provider only speaks its upstream's protocol: fan-out, input fetching,
 * storage, usage and timeouts live in the pipeline around it (pipeline/generate.ts).
 */
import type { ArkModelId, DrawingModelVersion, ModelFamily } from "../api/models.js";
import type { LogoInfo } from "../api/schemas.js";

/** A checked input image (images/inspect.ts). */
export interface InputImage {
  bytes: Buffer;
  format: "png" | "jpeg";
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

export type ProviderCall = ArkImagesCall | VisualDrawingCall | VisualPortraitCall;

export interface CallOptions {
  signal: AbortSignal;
  /** `inline`: image bytes in the answer (no second download); `url`: the upstream's own URLs. */
  delivery: "inline" | "url";
}

/** An image from an upstream: bytes (with the upstream's own base64, when it sent base64), or a URL to download. */
export type ProviderImage = { bytes: Buffer; base64?: string; mediaType: string } | { url: string; mediaType: string };

/** The image of a base64 field, keeping the string so that a `b64_json` answer need not encode the bytes again. */
export function fromBase64(base64: string, mediaType = "image/jpeg"): ProviderImage {
  return { bytes: Buffer.from(base64, "base64"), base64, mediaType };
}

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
}

export type ProviderId = "ark" | "visual" | "302ai";

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
  id: ProviderId;
  /** What `x-gateway-provider` says: the id, or `emulator` when pointed at the emulator. */
  label: string;
  families: readonly ModelFamily[];
  /** The configured upstream origin; result URLs on it may be downloaded even on loopback. */
  origin: string;
  /** Whether the upstream draws `watermark` / `logo_info` marks itself; if not, the gateway draws them. */
  drawsMarks: boolean;
  generate(call: ProviderCall, options: CallOptions): Promise<ProviderResult>;
  /** Reachability and credentials, by a request the upstream must refuse for a parameter after authenticating it. */
  check(signal: AbortSignal): Promise<CheckReport>;
}

/**
 * The answers of the Doubao image API as doubao-gateway serves them (the gateway's routes are typed with
 * these, so the SDK and the server cannot drift apart). Request types are the zod schemas' inputs (schemas.ts).
 */

/** `usage` of an image answer; 4.x/5.x pass the upstream's (5.x adds `input_images`, `tool_usage`). */
export interface ImageUsage {
  generated_images: number;
  output_tokens: number;
  total_tokens: number;
  input_images?: number;
  tool_usage?: Record<string, number>;
  [field: string]: unknown;
}

/** One image of an answer: its gateway URL or base64 bytes; 4.x/5.x add `size` (and `output_format` on 5.x). */
export type ImageData = ({ url: string; b64_json?: never } | { b64_json: string; url?: never }) & { size?: string; output_format?: string };

/** An image the upstream could not make, at its place (a group image refused by moderation, one of n that failed). */
export interface ImageDataError {
  error: { code: string; message: string };
}

/** `POST /doubao/images/generations`, `/v1/images/generations`, `/v1/images/edits`. */
export interface ImagesResponse {
  model: string;
  created: number;
  data: Array<ImageData | ImageDataError>;
  usage: ImageUsage;
  /** Seedream/SeedEdit 3.0 with `n` > 1 when some of the n calls failed. */
  error?: { code: string; message: string };
  /** With `X-Gateway-Failed-Images: omit` (or the key's `failed_images: "omit"`): the images left out of `data`, by their place. */
  failed?: FailedImage[];
}

/** An image that could not be made, where failed images are omitted from `data` (or from a stream's events). */
export interface FailedImage {
  image_index: number;
  code: string;
  message: string;
}

/** Events of `stream: true` on `/doubao/images/generations` (Ark's). */
export type ArkStreamEvent =
  | { type: "image_generation.partial_succeeded"; model: string; created: number; image_index: number; url?: string; b64_json?: string; size: string }
  | { type: "image_generation.partial_failed"; model: string; created: number; image_index: number; error: { code: string; message: string } }
  | { type: "image_generation.completed"; model: string; created: number; usage: ImageUsage; failed?: FailedImage[] };

/** Events of `stream: true` on `/v1/images/generations` (OpenAI's). */
export type OpenAIStreamEvent =
  | { type: "image_generation.completed"; b64_json: string; created_at: number; size: string; output_format: string; image_index: number; url?: string }
  | { type: "error"; error: { code: string; message: string; type: string; param: string | null } };

/** The Volcengine envelope of `/doubao/drawing/portrait` (and inside the drawing answer). */
export interface VolcengineEnvelope {
  code: 10000;
  message: "Success";
  request_id: string;
  time_elapsed: string;
  data: {
    image_urls: string[];
    binary_data_base64: string[];
    algorithm_base_resp: { status_code: 0; status_message: "Success" };
    llm_result: string;
    pe_result: string;
    predict_tags_result: string;
    rephraser_result: string;
    request_id: string;
    vlm_result: string;
  };
}

/** `POST /doubao/drawing/portrait`. */
export type PortraitResponse = VolcengineEnvelope & { status: 10000 };

/** `POST /doubao/drawing`: the source page's eight fields and the Volcengine envelope in one object. */
export interface DrawingResponse extends VolcengineEnvelope {
  completed_at: string;
  created_at: string;
  error: string;
  id: string;
  model: string;
  output: string;
  started_at: string;
  status: "succeeded";
}

/** What a Seedream 4.x/5.x model accepts (LIVE-MODELS.md §1.2). */
export interface ModelCapabilities {
  sizes: { keywords: string[]; min_pixels: number; max_pixels: number | null; min_ratio: number; max_ratio: number; default: string };
  max_reference_images: number;
  group_generation: boolean;
  max_group_images: number;
  stream: boolean;
  optimize_prompt_modes: string[];
  /** `optimize_prompt_options.thinking` values the model takes (5.0 Pro: `enabled`, `disabled`); empty: the field is refused. */
  optimize_prompt_thinking: string[];
  output_formats: string[];
  tools: string[];
}

export interface ModelLifecycle {
  state: "live" | "deprecated" | "retired";
  deprecated_at?: string;
  sunset?: string;
  replacement?: string;
  /** A retired model served by its replacement. */
  served_by?: string;
}

/** One model of `GET /v1/models` and `GET /v1/models/{id}`. */
export interface ModelObject {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  kind: "seedream-3" | "seededit-3" | "seedream-4" | "drawing" | "general-3" | "portrait";
  aliases: string[];
  lifecycle: ModelLifecycle;
  capabilities?: ModelCapabilities;
  price: { per_image: number; currency: string };
  unconfirmed?: string[];
}

export interface ModelList {
  object: "list";
  data: ModelObject[];
}

/** `?async=true`: the task to poll. */
export interface TaskSubmitted {
  task_id: string;
}

/** `GET /async_result?task_id=`: pending (202), or done with the synchronous status and body. */
export type TaskResult =
  | { status_code: 202; err: "result pending" }
  | { status_code: number; content_type: string; data: string; err: "" };

/** `GET /v1/tasks/{id}`: a task's state, timestamps and, once done, its answer (or its error). */
export interface TaskObject {
  id: string;
  object: "task";
  status: "queued" | "running" | "succeeded" | "failed";
  created_at: string;
  finished_at: string | null;
  status_code?: number;
  result?: unknown;
  error?: unknown;
}

/** An API key as the admin API shows it: never its hash, never its secret. */
export interface KeyView {
  id: string;
  name: string;
  prefix: string;
  role: "user" | "admin";
  status: "active" | "disabled" | "expired" | "unknown";
  created_at: string | null;
  disabled_at: string | null;
  expires_at: string | null;
  allowed_models: string[] | null;
  rpm_limit: number | null;
  concurrency_limit: number | null;
  daily_image_quota: number | null;
  total_image_quota: number | null;
  daily_spend_limit: number | null;
  total_spend_limit: number | null;
  /** Where the key's async tasks are reported when a request names no webhook_url. */
  webhook_url: string | null;
  /** How this key's requests answer an image that could not be made, unless a request sends `X-Gateway-Failed-Images`. */
  failed_images: "inline" | "omit";
  currency: string;
  usage: { images_today: number; images_total: number; spend_today: number; spend_total: number };
}

export interface KeyCreated {
  key: KeyView;
  /** Shown once: store it now. */
  secret: string;
}

export type UsageDimension = "key" | "model" | "day";

/** One row of a usage report (grouped by the report's dimensions). */
export interface UsageReportRow {
  key_id?: string;
  key_name?: string;
  model?: string;
  day?: string;
  requests: number;
  charged_requests: number;
  images: number;
  output_tokens: number;
  cost: number;
}

/** `GET /v1/usage`, `GET /admin/usage`. */
export interface UsageReport {
  object: "usage";
  since: string;
  until: string;
  group_by: UsageDimension[];
  currency: string;
  data: UsageReportRow[];
  totals: { requests: number; charged_requests: number; images: number; output_tokens: number; cost: number };
}

/** One request of `GET /admin/requests`: newest first; `state` `reserved` while it is in flight. */
export interface RecentRequest {
  id: string;
  created_at: string;
  key_id: string;
  key_name: string;
  /** The model asked for; `served_model` made the images (a retired model's replacement), null when none was made. */
  model: string;
  served_model: string | null;
  endpoint: string;
  /** The upstream that answered (e.g. `ark`, `visual`, `302ai`), null when none did. */
  provider: string | null;
  state: "reserved" | "settled";
  /** The HTTP status the client got; null while in flight. */
  status: number | null;
  images: number;
  latency_ms: number | null;
  cost: number;
  error_code: string | null;
}

/** `GET /admin/requests`. */
export interface RecentRequests {
  object: "list";
  currency: string;
  data: RecentRequest[];
}

/** One upstream account of `GET /admin/upstreams` (never a secret). */
export interface UpstreamAccountView {
  id: string;
  protocol: "ark" | "visual" | "302ai";
  label: string;
  /** Where it sends (scheme and host). */
  origin: string;
  /** Switched on (POST /admin/upstreams/{id}/enable|disable, shared by every gateway on the database). */
  enabled: boolean;
  weight: number;
  priority: number;
  /** The canonical model ids it serves; null: every model of its protocol. */
  models: string[] | null;
  limits: { rpm?: number | undefined; ipm?: number | undefined; concurrency?: number | undefined } | null;
  /** What of its limits is in use now: requests and images in the last minute, calls running (across gateways on Redis); null without limits or while they cannot be read. */
  limit_use: { requests: number; images: number; running: number } | null;
  breaker: "closed" | "open" | "half-open";
  /** Until its breaker lets a probe through, ms (0 when closed). */
  resting_ms: number;
  last_failure: { outcome: string; code: string | null; at: string } | null;
}

/** `GET /ready`: whether some upstream can serve, each provider's breaker, and the gateway's own parts. */
export interface Readiness {
  ready: boolean;
  /** Each configured upstream: its breaker's state, and whether it can take a request now. */
  providers: Array<{ id: string; label: string; breaker: string; usable: boolean }>;
  /** The database, storage and Redis (when used): `ok` or `down: …`. */
  dependencies: Record<string, string>;
  /** Why it is not ready. */
  reason?: string;
}

/** The error body of every non-2xx answer. */
export interface ErrorBody {
  error: { code: string; message: string; message_cn: string; param: string | null; type: string; err_code: number };
  request_id: string;
  code?: number;
  status?: number;
  message?: string;
  data?: null;
}

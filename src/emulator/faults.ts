/**
 * Faults the emulator can be told to produce, so that every failure path of the gateway runs over real
 * HTTP. A fault is chosen by a marker in the prompt — `[[fault:<spec>]]`, optionally `*N` (only the first
 * N requests carrying that marker fail) and `,retry-after=S` — or queued by `POST /_emulator/faults`.
 *
 * Specs: `ark:<Code>` (any Ark error code, UPSTREAMS.md §1.10), `visual:<code>` (any Visual business or
 * gateway code, §2.6), `302:<err_code>` (302.AI's own errors), `http:<status>` (a bare proxy error page),
 * `slow:<ms>` (answers normally after a delay), `drop` (closes the connection without an answer),
 * `malformed` (200 with a body that is not JSON), `expired-url` (answers normally, but the result URL is
 * already gone).
 */

export type FaultSpec =
  | { kind: "ark"; code: string }
  | { kind: "visual"; code: number }
  | { kind: "302"; code: number }
  | { kind: "http"; status: number }
  | { kind: "slow"; ms: number }
  | { kind: "drop" }
  | { kind: "malformed" }
  | { kind: "expired-url" };

export interface Fault {
  spec: FaultSpec;
  /** Seconds, sent as `Retry-After` with an error answer. */
  retryAfter: number | undefined;
}

/** Which emulated API a request is on; a queued fault may be limited to one. */
export type EmulatedApi = "ark" | "visual" | "302";

/** Ark error codes with their HTTP status and message (UPSTREAMS.md §1.10). */
export const ARK_ERRORS: Readonly<Record<string, { status: number; message: string }>> = {
  MissingParameter: { status: 400, message: "The request failed because it is missing one or multiple required parameters." },
  InvalidParameter: { status: 400, message: "A parameter specified in the request is not valid." },
  "InvalidEndpoint.ClosedEndpoint": { status: 400, message: "The request targeted an endpoint that is closed or temporarily unavailable." },
  SensitiveContentDetected: { status: 400, message: "The request failed because the input text may contain sensitive information." },
  "SensitiveContentDetected.SevereViolation": { status: 400, message: "The request failed because the input text may contain severe violation information." },
  "SensitiveContentDetected.Violence": { status: 400, message: "The request failed because the input text may contain violent information." },
  InputTextSensitiveContentDetected: { status: 400, message: "The request failed because the input text may contain sensitive information." },
  InputImageSensitiveContentDetected: { status: 400, message: "The request failed because the input image may contain sensitive information." },
  OutputImageSensitiveContentDetected: { status: 400, message: "The request failed because the output image may contain sensitive information." },
  AuthenticationError: { status: 401, message: "The API key or AK/SK in the request is missing or invalid." },
  AccountOverdueError: { status: 403, message: "The request failed because your account has an overdue balance." },
  AccessDenied: { status: 403, message: "The request failed because you do not have access to the requested resource." },
  "OperationDenied.ServiceNotOpen": { status: 403, message: "The model service is not activated for this account." },
  "InvalidEndpointOrModel.NotFound": { status: 404, message: "The model or endpoint does not exist or you do not have access to it." },
  ModelNotOpen: { status: 404, message: "Your account has not activated the model service." },
  "RateLimitExceeded.EndpointRPMExceeded": { status: 429, message: "The request has exceeded the RPM limit of the endpoint." },
  "RateLimitExceeded.EndpointTPMExceeded": { status: 429, message: "The request has exceeded the TPM limit of the endpoint." },
  ModelAccountRpmRateLimitExceeded: { status: 429, message: "The request has exceeded the account's RPM rate limit for the model." },
  ModelAccountTpmRateLimitExceeded: { status: 429, message: "The request has exceeded the account's TPM rate limit for the model." },
  ModelAccountIpmRateLimitExceeded: { status: 429, message: "The request has exceeded the account's IPM rate limit for the model." },
  QuotaExceeded: { status: 429, message: "The free quota of the account has been used up, or too many tasks are queued." },
  ServerOverloaded: { status: 429, message: "The service is currently overloaded; please try again later." },
  SetLimitExceeded: { status: 429, message: "The request has reached the inference limit you set for the model." },
  InflightBatchsizeExceeded: { status: 429, message: "The request has exceeded the concurrency limit." },
  AccountRateLimitExceeded: { status: 429, message: "The request has exceeded the account's RPM or TPM limit." },
  InternalServiceError: { status: 500, message: "The service encountered an unexpected internal error." },
};

/** Visual business codes (HTTP status and message, UPSTREAMS.md §2.6). */
export const VISUAL_BUSINESS_ERRORS: Readonly<Record<number, { status: number; message: string }>> = {
  50411: { status: 400, message: "Pre Img Risk Not Pass" },
  50511: { status: 400, message: "Post Img Risk Not Pass" },
  50412: { status: 400, message: "Text Risk Not Pass" },
  50512: { status: 400, message: "Post Text Risk Not Pass" },
  50413: { status: 400, message: "Post Text Risk Not Pass" },
  50518: { status: 400, message: "Pre Img Risk Not Pass: Copyright" },
  50519: { status: 400, message: "Post Img Risk Not Pass: Copyright" },
  50520: { status: 400, message: "Risk Internal Error" },
  50521: { status: 400, message: "Antidirt Internal Error" },
  50522: { status: 400, message: "Image Copyright Internal Error" },
  50429: { status: 429, message: "Request Has Reached API Limit, Please Try Later" },
  50430: { status: 429, message: "Request Has Reached API Concurrent Limit, Please Try Later" },
  50500: { status: 500, message: "Internal Error" },
  50501: { status: 500, message: "Internal RPC Error" },
  50200: { status: 400, message: "Request Invalid Args" },
  50201: { status: 400, message: "Request Missing Args" },
  50204: { status: 400, message: "Parse Args Error" },
  50205: { status: 400, message: "Image Size Limited" },
  50206: { status: 400, message: "Image Empty" },
  50207: { status: 400, message: "Image Decode Error" },
  50213: { status: 400, message: "Request Body Size Limited" },
  50215: { status: 400, message: "RPC Process Error" },
  60102: { status: 400, message: "Face Detect Error: no face found" },
  60208: { status: 400, message: "Leader Risk Error" },
  50400: { status: 401, message: "Auth Error" },
  50402: { status: 404, message: "Request Method Error" },
};

/** Visual gateway codes (`ResponseMetadata.Error`): name and HTTP status (UPSTREAMS.md §2.6, 公共错误码). */
export const VISUAL_GATEWAY_ERRORS: Readonly<Record<number, { status: number; code: string }>> = {
  100002: { status: 400, code: "MissingParameter" },
  100004: { status: 400, code: "MissingRequestInfo" },
  100006: { status: 400, code: "InvalidTimestamp" },
  100007: { status: 404, code: "ServiceNotFound" },
  100008: { status: 404, code: "InvalidActionOrVersion" },
  100009: { status: 401, code: "InvalidAccessKey" },
  100010: { status: 401, code: "SignatureDoesNotMatch" },
  100013: { status: 403, code: "AccessDenied" },
  100014: { status: 500, code: "InternalError" },
  100016: { status: 504, code: "InternalServiceTimeout" },
  100018: { status: 429, code: "FlowLimitExceeded" },
  100019: { status: 503, code: "ServiceUnavailableTemp" },
  100023: { status: 502, code: "InternalServiceError" },
  100024: { status: 400, code: "InvalidAuthorization" },
  100025: { status: 400, code: "InvalidCredential" },
  100026: { status: 401, code: "InvalidSecretToken" },
};

/** 302.AI `err_code`s (302AI-NOTES.md §3.3) with the HTTP status the emulator sends. 302 does not document statuses. */
export const RELAY_302_ERRORS: Readonly<Record<number, { status: number; message: string; messageCn: string }>> = {
  [-10001]: { status: 401, message: "Missing API key", messageCn: "缺少 API Key" },
  [-10002]: { status: 401, message: "The API key is invalid, disabled or deleted", messageCn: "API Key 无效、已禁用或已删除" },
  [-10003]: { status: 400, message: "Invalid parameter", messageCn: "参数错误" },
  [-10004]: { status: 403, message: "Insufficient account balance", messageCn: "账户余额不足" },
  [-10005]: { status: 401, message: "The API key has expired", messageCn: "API Key 已过期" },
  [-10006]: { status: 429, message: "The key's total quota is used up", messageCn: "总额度已用完" },
  [-10007]: { status: 429, message: "The key's daily quota is used up", messageCn: "今日额度已用完" },
  [-10008]: { status: 503, message: "No available channels currently", messageCn: "当前无可用渠道" },
  [-10009]: { status: 400, message: "API function not supported", messageCn: "不支持该 API 功能" },
  [-10010]: { status: 404, message: "Resource not found", messageCn: "资源不存在" },
  [-10011]: { status: 400, message: "Invalid request", messageCn: "无效请求" },
  [-10012]: { status: 429, message: "The free tool's hourly quota is used up", messageCn: "免费工具每小时额度已用完" },
  [-10013]: { status: 403, message: "The key is not enabled for this model", messageCn: "该 Key 未开通此模型" },
  [-10018]: { status: 429, message: "Quota error", messageCn: "额度错误" },
};

export class FaultSpecError extends Error {}

/** Parses `ark:ServerOverloaded`, `visual:50429`, `302:-10004`, `http:503`, `slow:2000`, `drop`, `malformed`, `expired-url`. */
export function parseFaultSpec(text: string): FaultSpec {
  const [kind = "", argument = ""] = text.split(/:(.*)/s, 2);
  const number = Number(argument);
  switch (kind) {
    case "ark":
      if (ARK_ERRORS[argument]) return { kind, code: argument };
      throw new FaultSpecError(`unknown Ark error code "${argument}"; one of ${Object.keys(ARK_ERRORS).join(", ")}`);
    case "visual":
      if (VISUAL_BUSINESS_ERRORS[number] || VISUAL_GATEWAY_ERRORS[number]) return { kind, code: number };
      throw new FaultSpecError(`unknown Visual code "${argument}"`);
    case "302":
      if (RELAY_302_ERRORS[number]) return { kind, code: number };
      throw new FaultSpecError(`unknown 302.AI err_code "${argument}"`);
    case "http":
      if (Number.isInteger(number) && number >= 400 && number <= 599) return { kind, status: number };
      throw new FaultSpecError(`http fault needs a status in [400, 599], got "${argument}"`);
    case "slow":
      if (Number.isInteger(number) && number >= 0 && number <= 600_000) return { kind, ms: number };
      throw new FaultSpecError(`slow fault needs milliseconds in [0, 600000], got "${argument}"`);
    case "drop":
    case "malformed":
    case "expired-url":
      return { kind };
    default:
      throw new FaultSpecError(`unknown fault "${text}"; use ark:<Code>, visual:<code>, 302:<err_code>, http:<status>, slow:<ms>, drop, malformed or expired-url`);
  }
}

/** Whether a fault of this spec can happen on that API (an Ark code cannot come from Visual). */
function fits(spec: FaultSpec, api: EmulatedApi): boolean {
  if (spec.kind === "ark") return api === "ark" || api === "302";
  if (spec.kind === "visual") return api === "visual" || api === "302";
  if (spec.kind === "302") return api === "302";
  return true;
}

const MARKER = /\[\[fault:([^\]*,]+)(?:\*(\d+))?(?:,retry-after=(\d+))?\]\]/;

interface Queued {
  fault: Fault;
  api: EmulatedApi | "any";
  remaining: number;
}

/** The emulator's fault state: queued faults and how often each prompt marker has fired. */
export class FaultBook {
  private readonly queue: Queued[] = [];
  private readonly fired = new Map<string, number>();
  injected = 0;

  /** `POST /_emulator/faults` body: `{fault, times?, api?, retry_after?}`. */
  enqueue(spec: FaultSpec, times: number, api: EmulatedApi | "any", retryAfter: number | undefined): void {
    this.queue.push({ fault: { spec, retryAfter }, api, remaining: times });
  }

  clear(): void {
    this.queue.length = 0;
    this.fired.clear();
  }

  /** The fault for this request, if any: a queued one first, else the prompt's marker. */
  take(api: EmulatedApi, prompt: unknown): Fault | undefined {
    const index = this.queue.findIndex((entry) => (entry.api === "any" || entry.api === api) && fits(entry.fault.spec, api));
    const queued = this.queue[index];
    if (queued) {
      queued.remaining -= 1;
      if (queued.remaining <= 0) this.queue.splice(index, 1);
      this.injected += 1;
      return queued.fault;
    }
    const match = typeof prompt === "string" ? MARKER.exec(prompt) : null;
    if (!match) return undefined;
    let spec: FaultSpec;
    try {
      spec = parseFaultSpec(match[1] as string);
    } catch {
      return undefined;
    }
    if (!fits(spec, api)) return undefined;
    const limit = match[2] === undefined ? Number.POSITIVE_INFINITY : Number(match[2]);
    const count = this.fired.get(match[0]) ?? 0;
    if (count >= limit) return undefined;
    this.fired.set(match[0], count + 1);
    this.injected += 1;
    return { spec, retryAfter: match[3] === undefined ? undefined : Number(match[3]) };
  }
}

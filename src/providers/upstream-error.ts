/**
 * Upstream failures, mapped to the contract's envelope (CONTRACT.md §3.4). The upstream's code and its
 * own message are kept; credentials, signatures and internal URLs never are.
 *
 * Each failure also says what the resilience layer (pipeline/resilience.ts) may do about it — its `kind`:
 * - `transient`: the upstream says "later" (rate limit, overload, 5xx, connection loss, timeout): retried on
 *   the same provider with backoff, then the next provider of the model is tried;
 * - `provider`: this provider cannot serve it (credentials, permission, model not opened, balance, quota):
 *   no retry, the next provider is tried at once;
 * - `request`: the request itself was refused (content safety, a parameter): no retry and no fallback —
 *   another provider would refuse it too, and a content refusal must never be worked around.
 */
import { ErrCode, GatewayError } from "../errors/errors.js";

export type FailureKind = "transient" | "provider" | "request";

export class UpstreamError extends GatewayError {
  readonly kind: FailureKind;
  readonly upstreamStatus: number | undefined;
  /** `Retry-After` as the upstream sent it, in seconds: a floor for the next attempt's delay. */
  readonly upstreamRetryAfter: number | undefined;
  /**
   * A refusal of what the upstream made, not of what it was asked (Visual's 50511, 50519): another attempt makes
   * another image, which may pass — retried on the same upstream as its docs say, never counted against its breaker.
   */
  readonly retrySame: boolean;

  constructor(init: ConstructorParameters<typeof GatewayError>[0] & { kind: FailureKind; upstreamStatus?: number; upstreamRetryAfter?: number; retrySame?: boolean }) {
    super(init);
    this.name = "UpstreamError";
    this.kind = init.kind;
    this.upstreamStatus = init.upstreamStatus;
    this.upstreamRetryAfter = init.upstreamRetryAfter;
    this.retrySame = init.retrySame ?? false;
  }
}

/** The configured credentials themselves (upstream keys, AK/SK), removed from any upstream message whatever their shape. */
const secrets = new Set<string>();

/** Registers credentials to redact (server/runtime.ts, at start); values shorter than 6 characters are ignored (they would redact words). */
export function registerSecrets(values: ReadonlyArray<string | undefined>): void {
  for (const value of values) if (value && value.length >= 6) secrets.add(value);
}

/** Removes the configured secrets, and anything URL-like or key-like, from an upstream message before a client or a log sees it. */
export function scrub(message: string): string {
  let text = message;
  for (const secret of secrets) if (text.includes(secret)) text = text.split(secret).join("<redacted>");
  return text
    .replace(/https?:\/\/\S+/g, "<url>")
    .replace(/\b(?:AK[A-Z]{2}[A-Za-z0-9+/=]{16,}|sk-[A-Za-z0-9_-]{8,}|[A-Fa-f0-9]{40,}|[A-Za-z0-9+/]{40,}={0,2})\b/g, "<redacted>")
    .slice(0, 500);
}

/** What an upstream said of a failure: who, its code and message, the HTTP status, and its numeric code where it has one. */
interface Said {
  upstream: string;
  code: string;
  message: string;
  status: number;
  upstreamCode?: number | undefined;
}

const CONTENT_REFUSAL_CN = "内容安全审核未通过：上游拒绝了该请求的文本或图片。";

function refusal({ upstream, code, message: upstreamMessage, status, upstreamCode }: Said): UpstreamError {
  return new UpstreamError({
    status: 400, code, type: "invalid_request_error", errCode: ErrCode.badParameter, kind: "request", upstreamStatus: status,
    ...(upstreamCode !== undefined ? { upstreamCode } : {}),
    message: `Content safety refusal: the upstream (${upstream}) refused the prompt or image (${upstreamCode ?? code}: ${upstreamMessage}). Change the prompt or image; retrying the same request will not help.`,
    messageCn: `${CONTENT_REFUSAL_CN}（${upstreamCode ?? code}）请修改提示词或图片后再试。`,
  });
}

/** The upstream refused the image it made (Visual 50511 output risk, 50519 output copyright): retried, then this 400. */
function outputRefusal({ upstream, code, message: upstreamMessage, status, upstreamCode }: Said): UpstreamError {
  return new UpstreamError({
    status: 400, code, type: "invalid_request_error", errCode: ErrCode.badParameter, kind: "request", upstreamStatus: status, retrySame: true,
    ...(upstreamCode !== undefined ? { upstreamCode } : {}),
    message: `Content safety refusal: the upstream (${upstream}) refused the image it made (${upstreamCode ?? code}: ${upstreamMessage}), also when asked again. Change the prompt, or retry later.`,
    messageCn: `内容安全审核未通过：上游拒绝了生成的图片（${upstreamCode ?? code}），网关已重试。请修改提示词或稍后再试。`,
  });
}

/**
 * The upstream is rate-limiting or overloaded (the gateway's account, not the client's key): once retries are
 * spent the client gets 503 -10008 with Retry-After, which it cannot mistake for its own key's 429.
 */
function rateLimited({ upstream, code, message: upstreamMessage, status, upstreamCode }: Said, retryAfter: number | undefined): UpstreamError {
  return new UpstreamError({
    status: 503, code, type: "upstream_error", errCode: ErrCode.noUpstream, kind: "transient", upstreamStatus: status,
    retryAfter: Math.max(1, Math.ceil(retryAfter ?? 1)),
    ...(retryAfter !== undefined ? { upstreamRetryAfter: retryAfter } : {}),
    ...(upstreamCode !== undefined ? { upstreamCode } : {}),
    message: `The upstream (${upstream}) is rate-limiting or overloaded (${upstreamCode ?? code}: ${upstreamMessage}); retry later.`,
    messageCn: `上游（${upstream}）限流或过载（${upstreamCode ?? code}），请稍后重试。`,
  });
}

function badParameter({ upstream, code, message: upstreamMessage, status, upstreamCode }: Said, param: string | null): UpstreamError {
  return new UpstreamError({
    status: 400, code, type: "invalid_request_error", errCode: ErrCode.badParameter, kind: "request", upstreamStatus: status, param,
    ...(upstreamCode !== undefined ? { upstreamCode } : {}),
    message: `The upstream (${upstream}) rejected the request (${upstreamCode ?? code}: ${upstreamMessage}).`,
    messageCn: `上游（${upstream}）拒绝了请求参数（${upstreamCode ?? code}）。`,
  });
}

/** The operator's side is wrong (credentials, account, activation): the client cannot fix it, another provider may serve. */
function operatorProblem({ upstream, code, message: upstreamMessage, status, upstreamCode }: Said, what: string): UpstreamError {
  return new UpstreamError({
    status: 502, code, type: "upstream_error", errCode: ErrCode.invalidRequest, kind: "provider", upstreamStatus: status,
    ...(upstreamCode !== undefined ? { upstreamCode } : {}),
    message: `The upstream (${upstream}) refused the gateway's account (${upstreamCode ?? code}: ${upstreamMessage}); ${what}`,
    messageCn: `上游（${upstream}）拒绝了网关的账号（${upstreamCode ?? code}），请联系网关管理员。`,
  });
}

function upstreamFailed(
  { upstream, code, message: upstreamMessage, status, upstreamCode }: Said,
  kind: FailureKind,
  { clientStatus = 502, retryAfter }: { clientStatus?: number; retryAfter?: number | undefined } = {},
): UpstreamError {
  return new UpstreamError({
    status: clientStatus, code, type: "upstream_error", errCode: ErrCode.invalidRequest, kind, upstreamStatus: status,
    ...(retryAfter !== undefined ? { upstreamRetryAfter: retryAfter } : {}),
    ...(upstreamCode !== undefined ? { upstreamCode } : {}),
    message: `The upstream (${upstream}) failed (${upstreamCode ?? code}: ${upstreamMessage}).`,
    messageCn: `上游（${upstream}）出错（${upstreamCode ?? code}）。`,
  });
}

// ---- Ark (UPSTREAMS.md §1.10) ---------------------------------------------------------------------

/** Ark 429 codes that mean "later": rate limits and overload. `QuotaExceeded` and `SetLimitExceeded` do not pass with time. */
const ARK_TRANSIENT_429 = /^(?:ServerOverloaded|RateLimitExceeded(?:\..+)?|ModelAccount(?:Rpm|Tpm|Ipm)RateLimitExceeded|InflightBatchsizeExceeded|AccountRateLimitExceeded)$/;
/** Ark's answers for a model that is retired, unknown, or not activated for the account (LIVE-MODELS.md §1.4). */
export const ARK_MODEL_GONE = /^(?:InvalidEndpointOrModel\.NotFound|ModelNotOpen|UnsupportedModel)$/;
const MODEL_GONE_FIX =
  "the model is retired upstream or not activated for the gateway's account. The operator must activate it in the Ark console, " +
  "or mark it retired in GATEWAY_CONFIG (models.<id>.lifecycle: {state: retired, replacement: <a live model>}); `doubao-gateway check` lists which models are live.";
const ARK_CREDENTIALS = "the operator must check ARK_API_KEY and that the model is activated in the Ark console.";

/** An Ark error body `{"error":{"code","message","param","type"}}` with its HTTP status (the 302 relay passes these through). */
export function arkError(status: number, body: unknown, retryAfter?: number, upstream = "Ark"): UpstreamError {
  const error = (body as { error?: { code?: unknown; message?: unknown; param?: unknown } } | undefined)?.error;
  const code = typeof error?.code === "string" && error.code ? error.code.slice(0, 100) : `HTTP${status}`;
  const upstreamMessage = typeof error?.message === "string" ? scrub(error.message) : `HTTP ${status}`;
  const param = typeof error?.param === "string" && error.param ? error.param.slice(0, 100) : null;
  if (/SensitiveContentDetected/.test(code)) return refusal({ upstream, code, message: upstreamMessage, status });
  if (status === 429) {
    if (ARK_TRANSIENT_429.test(code)) return rateLimited({ upstream, code, message: upstreamMessage, status }, retryAfter);
    return new UpstreamError({
      status: 429, code, type: "rate_limit_error", errCode: ErrCode.invalidRequest, kind: "provider", upstreamStatus: status, retryAfter: 60,
      message: `The upstream (${upstream}) quota of the gateway's account is used up (${code}: ${upstreamMessage}); the operator must raise it.`,
      messageCn: `网关在上游（${upstream}）的配额已用完（${code}），请联系网关管理员。`,
    });
  }
  const fix = upstream === "Ark" ? ARK_CREDENTIALS : `the operator must check the gateway's ${upstream} account.`;
  if (code === "InvalidEndpoint.ClosedEndpoint") return operatorProblem({ upstream, code, message: upstreamMessage, status }, fix);
  if (status === 400) return badParameter({ upstream, code, message: upstreamMessage, status }, param);
  if (status === 404 && (ARK_MODEL_GONE.test(code) || /does not exist/i.test(upstreamMessage))) {
    return operatorProblem({ upstream, code, message: upstreamMessage, status }, MODEL_GONE_FIX);
  }
  if (status === 401 || status === 403 || status === 404) return operatorProblem({ upstream, code, message: upstreamMessage, status }, fix);
  // A 5xx may say when to come back (Retry-After): honoured like a 429's.
  if (status >= 500) return upstreamFailed({ upstream, code, message: upstreamMessage, status }, "transient", { retryAfter });
  return upstreamFailed({ upstream, code, message: upstreamMessage, status }, "provider");
}

// ---- Visual (UPSTREAMS.md §2.6) -------------------------------------------------------------------

const VISUAL_REFUSALS = new Set([50411, 50412, 50512, 50413, 50518, 60208]);
/** Refusals of the output image, which the docs say to retry (VISUAL-ASYNC.md §3): a new image may pass. */
const VISUAL_OUTPUT_REFUSALS = new Set([50511, 50519]);
const VISUAL_CREDENTIALS = "the operator must check VOLC_ACCESSKEY and VOLC_SECRETKEY and that the service is activated.";

/** A Visual business failure `{"code": 5xxxx, "message": …}` with its HTTP status. */
export function visualBusinessError(status: number, code: number, upstreamMessage: string, retryAfter?: number, upstream = "Visual"): UpstreamError {
  const message = scrub(upstreamMessage);
  if (VISUAL_OUTPUT_REFUSALS.has(code)) return outputRefusal({ upstream, code: "SensitiveContentDetected", message, status, upstreamCode: code });
  if (VISUAL_REFUSALS.has(code)) return refusal({ upstream, code: "SensitiveContentDetected", message, status, upstreamCode: code });
  if (code === 50429 || code === 50430) return rateLimited({ upstream, code: "RateLimitExceeded", message, status, upstreamCode: code }, retryAfter);
  if ((code >= 50200 && code < 50300) || code === 60102) return badParameter({ upstream, code: "InvalidParameter", message, status, upstreamCode: code }, null);
  if (code === 50500 || code === 50501) return upstreamFailed({ upstream, code: "InternalServiceError", message, status, upstreamCode: code }, "transient");
  if (code === 50400 || code === 50402) return operatorProblem({ upstream, code: code === 50400 ? "AuthenticationError" : "InvalidAction", message, status, upstreamCode: code }, VISUAL_CREDENTIALS);
  return upstreamFailed({ upstream, code: "UpstreamError", message, status, upstreamCode: code }, status >= 500 ? "transient" : "provider");
}

/** Visual gateway codes (UPSTREAMS.md §2.6, 公共错误码): which mean "later", and which the client sees as what. */
const VISUAL_GATEWAY_TRANSIENT: Record<number, number> = { 100014: 502, 100016: 504, 100018: 429, 100019: 502, 100023: 502 };

/** A Visual gateway-level failure `{"ResponseMetadata":{"Error":{"CodeN","Code","Message"}}}`. */
export function visualGatewayError(status: number, codeN: number, code: string, upstreamMessage = "", retryAfter?: number): UpstreamError {
  const message = upstreamMessage ? `${code}: ${scrub(upstreamMessage)}` : code;
  const clientStatus = VISUAL_GATEWAY_TRANSIENT[codeN];
  if (clientStatus === 429) return rateLimited({ upstream: "Visual", code, message, status, upstreamCode: codeN }, retryAfter);
  if (clientStatus) return upstreamFailed({ upstream: "Visual", code, message, status, upstreamCode: codeN }, "transient", { clientStatus });
  return operatorProblem({ upstream: "Visual", code, message, status, upstreamCode: codeN }, VISUAL_CREDENTIALS);
}

// ---- 302.AI (302AI-NOTES.md §3.3) ---------------------------------------------------------------

const RELAY_ACCOUNT: Record<number, string> = {
  [-10001]: "the operator must set API302_KEY.",
  [-10002]: "the operator must check API302_KEY (invalid, disabled or deleted).",
  [-10004]: "the operator must top up the 302.AI account (insufficient balance).",
  [-10005]: "the operator must renew API302_KEY (expired).",
  [-10006]: "the operator must raise the 302.AI key's total quota.",
  [-10007]: "the operator must raise the 302.AI key's daily quota, or wait for its reset.",
  [-10009]: "302.AI does not offer this function.",
  [-10010]: "302.AI does not know this resource.",
  [-10013]: "the operator must enable this model for the 302.AI key.",
  [-10018]: "the operator must check the 302.AI key's quota.",
};

/** A 302.AI error `{"error":{"err_code","message","message_cn","type"}}` with its HTTP status. */
export function relay302Error(status: number, errCode: number, upstreamMessage: string, retryAfter?: number): UpstreamError {
  const message = scrub(upstreamMessage) || `err_code ${errCode}`;
  const code = `Relay${Math.abs(errCode)}`;
  const account = RELAY_ACCOUNT[errCode];
  if (account) return operatorProblem({ upstream: "302.AI", code, message, status, upstreamCode: errCode }, account);
  if (errCode === -10003 || errCode === -10011) return badParameter({ upstream: "302.AI", code: "InvalidParameter", message, status, upstreamCode: errCode }, null);
  if (errCode === -10012 || status === 429) return rateLimited({ upstream: "302.AI", code, message, status, upstreamCode: errCode }, retryAfter);
  // -10008 "no available channel" and anything unknown on a 5xx: later, maybe.
  return upstreamFailed({ upstream: "302.AI", code, message, status, upstreamCode: errCode }, errCode === -10008 || status >= 500 ? "transient" : "provider");
}

// ---- Transport ----------------------------------------------------------------------------------

export function upstreamTimeout(provider: string): UpstreamError {
  return new UpstreamError({
    status: 504, code: "UpstreamTimeout", type: "upstream_error", errCode: ErrCode.invalidRequest, kind: "transient",
    message: `The upstream (${provider}) did not answer in time.`, messageCn: `上游（${provider}）响应超时。`,
  });
}

export function upstreamUnreachable(provider: string, detail: string): UpstreamError {
  return new UpstreamError({
    status: 502, code: "UpstreamUnavailable", type: "upstream_error", errCode: ErrCode.invalidRequest, kind: "transient",
    message: `The upstream (${provider}) could not be reached (${detail}).`, messageCn: `无法连接上游（${provider}）。`,
  });
}

export function upstreamMalformed(provider: string, what: string): UpstreamError {
  return new UpstreamError({
    status: 502, code: "UpstreamBadResponse", type: "upstream_error", errCode: ErrCode.invalidRequest, kind: "transient",
    message: `The upstream (${provider}) sent an answer the gateway cannot read (${what}).`, messageCn: `上游（${provider}）返回了无法解析的响应。`,
  });
}

/** Every provider of a model is resting after repeated failures (pipeline/resilience.ts). */
/** 503 when every account that serves a model was switched off by an operator (`POST /admin/upstreams/{id}/disable`). */
export function accountsSwitchedOff(model: string, accounts: readonly string[]): UpstreamError {
  return new UpstreamError({
    status: 503, code: "ServiceUnavailable", type: "upstream_error", errCode: ErrCode.noUpstream, kind: "provider", param: "model",
    message: `Every upstream account that serves model ${model} (${accounts.join(", ")}) is switched off by the gateway's operator; nothing was sent or charged.`,
    messageCn: `服务模型 ${model} 的上游账号均已被运营方停用，本次请求未发送、未计费。`,
  });
}

/** 503 when every account that serves a model is at its own limit (GATEWAY_CONFIG `upstreams[].limits`). */
export function accountsFull(model: string, accounts: readonly string[], retryAfterSeconds: number, waitedMs = 0): UpstreamError {
  const wait = Math.max(1, Math.ceil(retryAfterSeconds));
  const waited = waitedMs > 0 ? ` (the call waited ${waitedMs} ms for room)` : "";
  return new UpstreamError({
    status: 503, code: "ServiceUnavailable", type: "upstream_error", errCode: ErrCode.noUpstream, kind: "transient", param: "model", retryAfter: wait,
    message: `Every upstream account that serves model ${model} (${accounts.join(", ")}) is at the limit the operator set for it${waited}; one has room in ${wait} s. Nothing was sent or charged; retry then.`,
    messageCn: `服务模型 ${model} 的上游账号均已达到运营方设定的限额，约 ${wait} 秒后有空余，本次请求未发送、未计费，请稍后重试。`,
  });
}

export function circuitOpen(model: string, providers: readonly string[], retryAfterSeconds: number): UpstreamError {
  return new UpstreamError({
    status: 503, code: "ServiceUnavailable", type: "upstream_error", errCode: ErrCode.noUpstream, kind: "transient", param: "model",
    retryAfter: Math.max(1, Math.ceil(retryAfterSeconds)),
    message: `No upstream is available for model ${model} right now: ${providers.join(", ")} failed repeatedly and rest${providers.length === 1 ? "s" : ""} for ${Math.ceil(retryAfterSeconds)} s. Retry later.`,
    messageCn: `模型 ${model} 的上游暂时不可用（连续失败，暂停 ${Math.ceil(retryAfterSeconds)} 秒），请稍后重试。`,
  });
}

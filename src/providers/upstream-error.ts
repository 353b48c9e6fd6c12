/**
 * Upstream failures, mapped to the contract's envelope (CONTRACT.md §3.4). The upstream's code and its
 * own message are kept; credentials, signatures and internal URLs never are.
 */
import { ErrCode, GatewayError, type ErrorType } from "../errors.js";

export class UpstreamError extends GatewayError {
  /** Worth another attempt (rate limits, overload, 5xx, connection loss). */
  readonly retryable: boolean;
  readonly upstreamStatus: number | undefined;

  constructor(init: ConstructorParameters<typeof GatewayError>[0] & { retryable: boolean; upstreamStatus?: number }) {
    super(init);
    this.name = "UpstreamError";
    this.retryable = init.retryable;
    this.upstreamStatus = init.upstreamStatus;
  }
}

/** Removes anything URL-like or key-like from an upstream message before a client sees it. */
export function scrub(message: string): string {
  return message
    .replace(/https?:\/\/\S+/g, "<url>")
    .replace(/\b(?:AK[A-Z]{2}[A-Za-z0-9]{20,}|[A-Fa-f0-9]{64})\b/g, "<redacted>")
    .slice(0, 500);
}

const CONTENT_REFUSAL_CN = "内容安全审核未通过：上游拒绝了该请求的文本或图片。";

interface Mapped {
  status: number;
  type: ErrorType;
  retryable: boolean;
  refusal: boolean;
}

function arkMapping(status: number, code: string): Mapped {
  if (/Sensitive/i.test(code)) return { status: 400, type: "invalid_request_error", retryable: false, refusal: true };
  if (status === 429) {
    const retryable = /ServerOverloaded|RateLimit|RpmRateLimit|IpmRateLimit|TpmRateLimit|InflightBatchsize/i.test(code);
    return { status: 429, type: "rate_limit_error", retryable, refusal: false };
  }
  if (status === 400) return { status: 400, type: "invalid_request_error", retryable: false, refusal: false };
  if (status === 401 || status === 403 || status === 404) return { status: 502, type: "upstream_error", retryable: false, refusal: false };
  return { status: 502, type: "upstream_error", retryable: status >= 500, refusal: false };
}

/** An Ark error body `{"error":{"code","message","param","type"}}` with its HTTP status. */
export function arkError(status: number, body: unknown, retryAfter?: number): UpstreamError {
  const error = (body as { error?: { code?: unknown; message?: unknown; param?: unknown } } | undefined)?.error;
  const code = typeof error?.code === "string" ? error.code : `HTTP${status}`;
  const upstreamMessage = typeof error?.message === "string" ? scrub(error.message) : `HTTP ${status}`;
  const mapped = arkMapping(status, code);
  const param = typeof error?.param === "string" && error.param ? error.param : null;
  const message = mapped.refusal
    ? `Content safety refusal: the upstream refused the prompt or image (${code}). ${upstreamMessage}`
    : mapped.status === 502 && (status === 401 || status === 403)
      ? `The upstream (Ark) rejected the gateway's credentials or permissions (${code}); the operator must check ARK_API_KEY and the model's activation.`
      : `Upstream Ark error ${code}: ${upstreamMessage}`;
  return new UpstreamError({
    status: mapped.status,
    code,
    message,
    messageCn: mapped.refusal ? `${CONTENT_REFUSAL_CN}（${code}）` : `上游 Ark 返回错误 ${code}。`,
    param,
    type: mapped.type,
    errCode: mapped.status === 400 ? ErrCode.badParameter : ErrCode.invalidRequest,
    retryable: mapped.retryable,
    upstreamStatus: status,
    ...(mapped.status === 429 ? { retryAfter: retryAfter ?? 1 } : {}),
  });
}

const VISUAL_REFUSALS = new Set([50411, 50511, 50412, 50512, 50413, 50518, 50519, 60208]);

/** A Visual business failure `{"code": 5xxxx, "message": …}`. */
export function visualBusinessError(status: number, code: number, upstreamMessage: string, retryAfter?: number): UpstreamError {
  const message = scrub(upstreamMessage);
  if (VISUAL_REFUSALS.has(code)) {
    return new UpstreamError({
      status: 400, code: "SensitiveContentDetected", upstreamCode: code, type: "invalid_request_error", errCode: ErrCode.badParameter,
      message: `Content safety refusal: the upstream refused the prompt or image (${code} ${message}).`,
      messageCn: `${CONTENT_REFUSAL_CN}（${code}）`, retryable: code === 50511, upstreamStatus: status,
    });
  }
  if (code === 50429 || code === 50430) {
    return new UpstreamError({
      status: 429, code: "RateLimitExceeded", upstreamCode: code, type: "rate_limit_error", errCode: ErrCode.invalidRequest,
      message: `The upstream (Visual) is rate-limiting requests (${code} ${message}); retry later.`,
      messageCn: `上游限流（${code}），请稍后重试。`, retryable: true, retryAfter: retryAfter ?? 1, upstreamStatus: status,
    });
  }
  if (code >= 50200 && code < 50300 || code === 60102) {
    return new UpstreamError({
      status: 400, code: "InvalidParameter", upstreamCode: code, type: "invalid_request_error", errCode: ErrCode.badParameter,
      message: `The upstream (Visual) rejected the request (${code} ${message}).`,
      messageCn: `上游拒绝了请求参数（${code}）。`, retryable: false, upstreamStatus: status,
    });
  }
  return new UpstreamError({
    status: 502, code: "UpstreamError", upstreamCode: code, type: "upstream_error", errCode: ErrCode.invalidRequest,
    message: `The upstream (Visual) failed (${code} ${message}).`, messageCn: `上游服务出错（${code}）。`,
    retryable: code === 50500 || code === 50501 || status >= 500, upstreamStatus: status,
  });
}

/** A Visual gateway-level failure `{"ResponseMetadata":{"Error":{"CodeN","Code","Message"}}}`. */
export function visualGatewayError(status: number, codeN: number, code: string): UpstreamError {
  const throttled = codeN === 100018;
  const timeout = codeN === 100016;
  return new UpstreamError({
    status: throttled ? 429 : timeout ? 504 : 502,
    code,
    upstreamCode: codeN,
    type: throttled ? "rate_limit_error" : "upstream_error",
    errCode: ErrCode.invalidRequest,
    message: throttled
      ? `The upstream (Visual) is throttling requests (${code}); retry later.`
      : [100009, 100010, 100013, 100024, 100025, 100026].includes(codeN)
        ? `The upstream (Visual) rejected the gateway's request signature or credentials (${code}); the operator must check VOLC_ACCESSKEY and VOLC_SECRETKEY.`
        : `The upstream (Visual) gateway failed (${code}).`,
    messageCn: throttled ? "上游限流，请稍后重试。" : `上游网关错误（${code}）。`,
    retryable: throttled || timeout || [100014, 100019, 100023].includes(codeN),
    upstreamStatus: status,
    ...(throttled ? { retryAfter: 1 } : {}),
  });
}

export function upstreamTimeout(provider: string): UpstreamError {
  return new UpstreamError({
    status: 504, code: "UpstreamTimeout", type: "upstream_error", errCode: ErrCode.invalidRequest,
    message: `The upstream (${provider}) did not answer in time.`, messageCn: `上游（${provider}）响应超时。`, retryable: true,
  });
}

export function upstreamUnreachable(provider: string, detail: string): UpstreamError {
  return new UpstreamError({
    status: 502, code: "UpstreamUnavailable", type: "upstream_error", errCode: ErrCode.invalidRequest,
    message: `The upstream (${provider}) could not be reached (${detail}).`, messageCn: `无法连接上游（${provider}）。`, retryable: true,
  });
}

export function upstreamMalformed(provider: string, what: string): UpstreamError {
  return new UpstreamError({
    status: 502, code: "UpstreamBadResponse", type: "upstream_error", errCode: ErrCode.invalidRequest,
    message: `The upstream (${provider}) sent an answer the gateway cannot read (${what}).`, messageCn: `上游（${provider}）返回了无法解析的响应。`, retryable: true,
  });
}

/**
 * The GatewayError family and the one function that renders the contract's error envelope
 * (CONTRACT.md §3.4). Handlers throw; the app's error hook renders. Nothing else formats errors.
 */

export type ErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "rate_limit_error"
  | "upstream_error"
  | "server_error";

/** 302.AI `err_code` numbers (CONTRACT.md §3.4). */
export const ErrCode = {
  noKey: -10001,
  keyInvalid: -10002,
  badParameter: -10003,
  totalQuota: -10006,
  dailyQuota: -10007,
  noUpstream: -10008,
  invalidRequest: -10011,
  modelNotAllowed: -10013,
} as const;

export interface GatewayErrorInit {
  status: number;
  /** Ark-style string code, e.g. `InvalidParameter`. */
  code: string;
  message: string;
  messageCn: string;
  param?: string | null;
  type: ErrorType;
  errCode: number;
  /** Numeric upstream code (Visual 5xxxx) to surface as `code` on `/doubao/drawing*`. */
  upstreamCode?: number;
  /** Seconds, sent as `Retry-After`. */
  retryAfter?: number;
  headers?: Record<string, string>;
}

export class GatewayError extends Error {
  readonly status: number;
  readonly code: string;
  readonly messageCn: string;
  readonly param: string | null;
  readonly type: ErrorType;
  readonly errCode: number;
  readonly upstreamCode: number | undefined;
  readonly retryAfter: number | undefined;
  readonly headers: Record<string, string>;

  constructor(init: GatewayErrorInit) {
    super(init.message);
    this.name = "GatewayError";
    this.status = init.status;
    this.code = init.code;
    this.messageCn = init.messageCn;
    this.param = init.param ?? null;
    this.type = init.type;
    this.errCode = init.errCode;
    this.upstreamCode = init.upstreamCode;
    this.retryAfter = init.retryAfter;
    this.headers = init.headers ?? {};
  }
}

/** A 400 about one request field. */
export function invalidParameter(param: string, message: string, messageCn?: string, code = "InvalidParameter"): GatewayError {
  return new GatewayError({
    status: 400,
    code,
    message,
    messageCn: messageCn ?? `参数 ${param} 无效：${message}`,
    param,
    type: "invalid_request_error",
    errCode: ErrCode.badParameter,
  });
}

/** A 400/404/405/413/415 about the request as a whole (not one field). */
export function invalidRequest(status: number, code: string, message: string, messageCn: string, headers?: Record<string, string>): GatewayError {
  return new GatewayError({
    status,
    code,
    message,
    messageCn,
    type: "invalid_request_error",
    errCode: ErrCode.invalidRequest,
    ...(headers ? { headers } : {}),
  });
}

export function noUpstream(model: string, toSet: string): GatewayError {
  return new GatewayError({
    status: 503,
    code: "ServiceUnavailable",
    message: `No upstream is configured for model ${model}. Set ${toSet} and restart the gateway.`,
    messageCn: `模型 ${model} 没有可用的上游。请设置 ${toSet} 后重启网关。`,
    param: "model",
    type: "server_error",
    errCode: ErrCode.noUpstream,
  });
}

export function internalError(): GatewayError {
  return new GatewayError({
    status: 500,
    code: "InternalServiceError",
    message: "The gateway failed to process the request. It has been logged; retry later.",
    messageCn: "网关处理请求失败，已记录日志，请稍后重试。",
    type: "server_error",
    errCode: -10011,
  });
}

export interface ErrorEnvelope {
  error: {
    code: string;
    message: string;
    message_cn: string;
    param: string | null;
    type: ErrorType;
    err_code: number;
  };
  request_id: string;
  /** Volcengine fields, only on `/doubao/drawing*` (CONTRACT.md §3.4). */
  code?: number;
  status?: number;
  message?: string;
  data?: null;
}

/** Renders the one error body; `volcengine` adds the numeric `code`/`status`/`message`/`data` for 302 clients. */
export function renderError(error: GatewayError, requestId: string, volcengine: boolean): ErrorEnvelope {
  const body: ErrorEnvelope = {
    error: {
      code: error.code,
      message: error.message,
      message_cn: error.messageCn,
      param: error.param,
      type: error.type,
      err_code: error.errCode,
    },
    request_id: requestId,
  };
  if (volcengine) {
    const numeric = error.upstreamCode ?? volcengineCodeFor(error.status);
    body.code = numeric;
    body.status = numeric;
    body.message = error.message;
    body.data = null;
  }
  return body;
}

/** The Volcengine common code closest to an HTTP status, for errors that did not come from Visual. */
function volcengineCodeFor(status: number): number {
  if (status === 401) return 50400;
  if (status === 429) return 50429;
  if (status >= 500) return 50500;
  return 50200;
}

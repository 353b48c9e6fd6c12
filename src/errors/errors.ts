/**
 * The GatewayError family and the one function that renders the contract's error envelope
 * (CONTRACT.md §3.4). Handlers throw; the app's error hook renders. Nothing else formats errors.
 */
import { chineseFieldMessage } from "./messages-cn.js";

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
  notPermitted: -10009,
  notFound: -10010,
  invalidRequest: -10011,
  rateLimited: -10012,
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
    messageCn: messageCn ?? chineseFieldMessage(param, message),
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
    // 302's numbers where 302 has one: -10010 resource not found, -10009 function not supported (a wrong method).
    errCode: status === 404 ? ErrCode.notFound : status === 405 ? ErrCode.notPermitted : ErrCode.invalidRequest,
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

/** 401 for a key that is unknown, disabled or expired (checked on every request and before every upstream attempt). */
export function keyRefused(reason: "unknown" | "disabled" | "expired", expiresAt?: number | null): GatewayError {
  const text = {
    unknown: ["The API key is invalid or has been revoked.", "API Key 无效或已被撤销。"],
    disabled: ["The API key has been disabled; ask the gateway's operator to re-enable it.", "API Key 已被禁用，请联系网关管理员。"],
    expired: [`The API key expired at ${new Date(expiresAt ?? 0).toISOString()}.`, `API Key 已于 ${new Date(expiresAt ?? 0).toISOString()} 过期。`],
  }[reason] as [string, string];
  return new GatewayError({ status: 401, code: "AuthenticationError", message: text[0], messageCn: text[1], type: "authentication_error", errCode: ErrCode.keyInvalid });
}

export function modelNotAllowed(model: string, allowed: readonly string[]): GatewayError {
  return new GatewayError({
    status: 403, code: "ModelNotAllowed", param: "model", type: "permission_error", errCode: ErrCode.modelNotAllowed,
    message: `This API key may not use model ${model}; it may use ${allowed.join(", ") || "no model"}.`,
    messageCn: `该 API Key 不能使用模型 ${model}；可用模型：${allowed.join(", ") || "无"}。`,
  });
}

export function adminOnly(): GatewayError {
  return new GatewayError({
    status: 403, code: "AccessDenied", type: "permission_error", errCode: ErrCode.notPermitted,
    message: "This endpoint needs an API key with the admin role.", messageCn: "该接口需要具有 admin 角色的 API Key。",
  });
}

/** 429 for the per-key request rate or concurrency, with the seconds to wait. */
export function rateLimited(what: "rpm" | "concurrency", limit: number, retryAfter: number): GatewayError {
  return new GatewayError({
    status: 429, code: "RateLimitExceeded", type: "rate_limit_error", errCode: ErrCode.rateLimited, retryAfter,
    message: what === "rpm"
      ? `This API key may make ${limit} requests per minute; retry in ${retryAfter} s.`
      : `This API key may run ${limit} request${limit === 1 ? "" : "s"} at a time; retry when one has finished.`,
    messageCn: what === "rpm" ? `该 API Key 每分钟最多 ${limit} 次请求，请 ${retryAfter} 秒后重试。` : `该 API Key 最多同时运行 ${limit} 个请求，请稍后重试。`,
  });
}

/** 429 for a used-up image or spend quota: -10006 total, -10007 daily (with the seconds to the daily reset). */
export function quotaExceeded(daily: boolean, what: string, messageCn: string, retryAfter?: number): GatewayError {
  return new GatewayError({
    status: 429, code: "QuotaExceeded", type: "rate_limit_error", errCode: daily ? ErrCode.dailyQuota : ErrCode.totalQuota,
    message: what, messageCn, ...(retryAfter !== undefined ? { retryAfter } : {}),
  });
}

/** The shared parts a gateway depends on besides its upstreams; a 503 names the one that failed. */
export type SharedPart = "database" | "storage";

const PART_NAMES: Record<SharedPart, [code: string, name: string, nameCn: string]> = {
  database: ["DatabaseUnavailable", "database (PostgreSQL)", "数据库（PostgreSQL）"],
  storage: ["StorageUnavailable", "result storage (S3)", "结果存储（S3）"],
};

/**
 * 503 for a request a shared part of the gateway could not serve within its bound (a connection refused, cut or not
 * answering): nothing about the request is lost — if it was charged, the answer carries its images — and a retry in a
 * few seconds is the right move (`Retry-After`).
 */
export function partUnavailable(part: SharedPart, detail: string): GatewayError {
  const [code, name, nameCn] = PART_NAMES[part];
  return new GatewayError({
    status: 503, code, type: "server_error", errCode: ErrCode.noUpstream, retryAfter: 5,
    message: `The gateway's ${name} is not answering right now (${detail}); this request was not charged. Retry in a few seconds.`,
    messageCn: `网关的${nameCn}暂时无法访问，本次请求未计费，请稍后重试。`,
  });
}

/** Whether an error is a shared part being away (PostgreSQL, S3 or Redis), rather than something about the request. */
export function isPartUnavailable(error: unknown): boolean {
  return error instanceof GatewayError && (error.code === "DatabaseUnavailable" || error.code === "StorageUnavailable" || error.code === "LimitsUnavailable");
}

export function internalError(): GatewayError {
  return new GatewayError({
    status: 500,
    code: "InternalServiceError",
    message: "The gateway failed to process the request. It has been logged; retry later.",
    messageCn: "网关处理请求失败，已记录日志，请稍后重试。",
    type: "server_error",
    errCode: ErrCode.noUpstream,
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
  if (status === 401 || status === 403) return 50400;
  if (status === 429) return 50429;
  if (status >= 500) return 50500;
  return 50200;
}

/** The abort reason when the client went away; the ledger records such a request as 499 ClientClosedRequest. */
export class ClientGone extends Error {
  constructor() {
    super("client disconnected");
    this.name = "ClientGone";
  }
}

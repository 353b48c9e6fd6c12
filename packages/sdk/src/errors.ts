/**
 * One error class per HTTP status, built by one factory from the contract's error body
 * (`{error: {code, message, message_cn, param, type, err_code}, request_id}`, CONTRACT.md §3.4) — also
 * api.302.ai's own `{error: {err_code, message}}` and Ark's `{error: {code, message, param}}`.
 */

export interface DoubaoErrorFields {
  status: number | undefined;
  /** Ark-style string code, e.g. `InvalidParameter`, `QuotaExceeded`. */
  code: string | undefined;
  /** 302.AI's number, e.g. -10003 (bad parameter), -10006 (quota). */
  errCode: number | undefined;
  /** The request field at fault. */
  param: string | undefined;
  type: string | undefined;
  messageCn: string | undefined;
  /** The gateway's `x-request-id` (or the body's `request_id`). */
  requestId: string | undefined;
  /** Seconds to wait, from `Retry-After`. */
  retryAfter: number | undefined;
  /** The parsed body, as it came. */
  body: unknown;
}

export class DoubaoError extends Error implements DoubaoErrorFields {
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly errCode: number | undefined;
  readonly param: string | undefined;
  readonly type: string | undefined;
  readonly messageCn: string | undefined;
  readonly requestId: string | undefined;
  readonly retryAfter: number | undefined;
  readonly body: unknown;

  constructor(message: string, fields: Partial<DoubaoErrorFields> = {}) {
    super(message);
    this.name = new.target.name;
    this.status = fields.status;
    this.code = fields.code;
    this.errCode = fields.errCode;
    this.param = fields.param;
    this.type = fields.type;
    this.messageCn = fields.messageCn;
    this.requestId = fields.requestId;
    this.retryAfter = fields.retryAfter;
    this.body = fields.body;
  }
}

/** 400: a field broke a rule (`param` names it), or the upstream refused the content. */
export class BadRequestError extends DoubaoError {}
/** 401: no key, a wrong, disabled or expired key. */
export class AuthenticationError extends DoubaoError {}
/** 403: the key may not use this model or endpoint. */
export class PermissionDeniedError extends DoubaoError {}
/** 404: no such route, task, key or model. */
export class NotFoundError extends DoubaoError {}
/** 409: a conflict (a duplicate name, an idempotency key reused with another body). */
export class ConflictError extends DoubaoError {}
/** 410: the model is retired and nothing replaces it; the message names one to use. */
export class GoneError extends DoubaoError {}
/** 413: the body is over the gateway's limit. */
export class PayloadTooLargeError extends DoubaoError {}
/** 415: the body's content type. */
export class UnsupportedMediaTypeError extends DoubaoError {}
/** 429: the key's rate, concurrency or quota; `retryAfter` says when. */
export class RateLimitError extends DoubaoError {}
/** 500. */
export class InternalServerError extends DoubaoError {}
/** 502: the upstream failed or refused the gateway's account. */
export class BadGatewayError extends DoubaoError {}
/** 503: no upstream available for the model now. */
export class ServiceUnavailableError extends DoubaoError {}
/** 504: the upstream took too long. */
export class GatewayTimeoutError extends DoubaoError {}
/** Any other status. */
export class APIError extends DoubaoError {}
/** The gateway could not be reached (connection refused, reset, DNS). */
export class ConnectionError extends DoubaoError {}
/** No answer within the client's timeout. */
export class TimeoutError extends DoubaoError {}

const BY_STATUS: Record<number, new (message: string, fields: Partial<DoubaoErrorFields>) => DoubaoError> = {
  400: BadRequestError, 401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError, 409: ConflictError, 410: GoneError,
  413: PayloadTooLargeError, 415: UnsupportedMediaTypeError, 429: RateLimitError, 500: InternalServerError, 502: BadGatewayError,
  503: ServiceUnavailableError, 504: GatewayTimeoutError,
};

/** `Retry-After` in seconds (delta-seconds or an HTTP-date); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const seconds = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : (Date.parse(value) - now) / 1000;
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

/** The error for a non-2xx answer. */
export function errorFromResponse(status: number, body: unknown, headers: Headers): DoubaoError {
  const envelope = (body && typeof body === "object" ? body : {}) as { error?: Record<string, unknown>; request_id?: unknown; message?: unknown };
  const error = envelope.error && typeof envelope.error === "object" ? envelope.error : {};
  const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);
  const message = text(error.message) ?? text(envelope.message) ?? (typeof body === "string" && body ? body.slice(0, 300) : `HTTP ${status}`);
  const fields: Partial<DoubaoErrorFields> = {
    status,
    code: text(error.code),
    errCode: typeof error.err_code === "number" ? error.err_code : undefined,
    param: text(error.param),
    type: text(error.type),
    messageCn: text(error.message_cn),
    requestId: headers.get("x-request-id") ?? text(envelope.request_id),
    retryAfter: parseRetryAfter(headers.get("retry-after")),
    body,
  };
  const Class = BY_STATUS[status] ?? APIError;
  return new Class(message, fields);
}

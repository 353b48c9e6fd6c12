/** The one place providers send HTTP: JSON in, parsed JSON out, network failures typed. */
import type { CheckReport } from "./types.js";
import { scrub, upstreamMalformed, upstreamTimeout, upstreamUnreachable, type UpstreamError } from "./upstream-error.js";

export type FetchFunction = typeof globalThis.fetch;

export interface UpstreamResponse {
  status: number;
  json: unknown;
  retryAfter: number | undefined;
}

/** `Retry-After` in seconds: delta-seconds or an HTTP-date (RFC 9110 §10.2.3); undefined when absent, past or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const seconds = /^\s*\d+\s*$/.test(value) ? Number(value) : (Date.parse(value) - now) / 1000;
  return Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : undefined;
}

export async function postJson(
  fetchFunction: FetchFunction,
  provider: string,
  url: string,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
): Promise<UpstreamResponse> {
  let response: Response;
  let text: string;
  try {
    response = await fetchFunction(url, { method: "POST", headers, body, signal });
    text = await response.text();
  } catch (error) {
    if (signal.aborted) {
      if ((signal.reason as Error | undefined)?.name === "TimeoutError") throw upstreamTimeout(provider);
      throw signal.reason ?? error;
    }
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    const detail = typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" && cause.message ? scrub(cause.message).slice(0, 80) : "network error";
    throw upstreamUnreachable(provider, detail);
  }
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    if (response.ok) throw upstreamMalformed(provider, `HTTP ${response.status}, body is not JSON`);
  }
  return { status: response.status, json, retryAfter: parseRetryAfter(response.headers.get("retry-after")) };
}

/**
 * `doubao-gateway check` for one upstream: `send` makes a request the upstream must refuse for a
 * parameter after it has accepted the credentials; `interpret` turns its answer into the upstream error
 * (or `undefined` if, against expectations, it succeeded); `rejected` says which errors mean bad credentials.
 */
export async function runCheck(
  send: () => Promise<UpstreamResponse>,
  interpret: (response: UpstreamResponse) => UpstreamError | undefined,
  rejected: (error: UpstreamError) => boolean,
): Promise<CheckReport> {
  let response: UpstreamResponse;
  try {
    response = await send();
  } catch (error) {
    return { ok: false, reachable: false, credentials: "unknown", detail: error instanceof Error ? error.message : String(error) };
  }
  const error = interpret(response);
  if (!error) return { ok: true, reachable: true, credentials: "accepted", detail: "credentials accepted (the upstream answered the check request with success, which it should have refused)" };
  if (rejected(error)) return { ok: false, reachable: true, credentials: "rejected", detail: error.message };
  if (error.kind === "request") {
    return { ok: true, reachable: true, credentials: "accepted", detail: `credentials accepted; the deliberately invalid check request was refused as expected (${error.upstreamCode ?? error.code}), no image generated` };
  }
  if (error.kind === "provider") return { ok: false, reachable: true, credentials: "accepted", detail: `credentials accepted, but the account cannot generate: ${error.message}` };
  return { ok: false, reachable: true, credentials: "unknown", detail: `the upstream is reachable but failing right now: ${error.message}` };
}

/**
 * The one place providers send HTTP: JSON in, parsed JSON (or server-sent events) out, network failures typed. By
 * default through undici's `request` on one keep-alive pool per process (no web streams, no `Response` objects: the
 * least a call can cost); a provider given a `fetch` (tests, special runtimes) uses it instead.
 *
 * A call is bounded by the request's one abort signal (the client went away) and, for an attempt, its deadline:
 * on undici that is `headersTimeout` (the answer must start by then) and `bodyTimeout` (its body never pauses
 * longer), with the body cut when a chunk comes after the deadline — so a body trickling in ends by at most twice
 * the attempt's time — without a controller, listener or timer of the gateway's per attempt. A stream's body is
 * bounded only by the wait for its answer: it lives as long as the client.
 */
import type * as Undici from "undici";
import { loadUndici } from "../process/undici.js";
import { parseAnswer } from "./answer-json.js";
import { EventTooLarge, SseReader, type SseMessage } from "./sse.js";
import type { CheckReport } from "./types.js";
import { scrub, upstreamMalformed, upstreamTimeout, upstreamUnreachable, type UpstreamError } from "./upstream-error.js";

export type FetchFunction = typeof globalThis.fetch;

/** What bounds one call: the request's signal, and the attempt's deadline (`Date.now()` ms; none: undici's 5 min). */
export interface CallLimits {
  signal: AbortSignal;
  deadline?: number | undefined;
}

const timeoutError = () => new DOMException("The operation timed out.", "TimeoutError");

/** The most an upstream's JSON answer may be (15 images of base64 at 4K fit many times over). */
export const MAX_ANSWER_BYTES = 512 * 1024 * 1024;

/** A body grew past its limit: refused before it fills the memory. */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the body is larger than ${limit} bytes`);
    this.name = "BodyTooLarge";
  }
}

/** The time left before a deadline, at least 1 ms; undefined without one. */
export const timeLeft = (deadline: number | undefined) => (deadline === undefined ? undefined : Math.max(1, deadline - Date.now()));

/** An error that is a timeout: the deadline's, or undici's headers or body timeout. */
export function isTimeout(error: unknown): boolean {
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  return name === "TimeoutError" || code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
}

/**
 * An undici body read to its end: rejected when it closes without one, when a chunk comes after the deadline (a
 * body trickling in slower than undici's idle timeout can catch), or when it grows past `maxBytes`.
 */
export function readBody(body: NodeJS.ReadableStream & { destroy(error?: Error): void }, deadline?: number, maxBytes = Number.POSITIVE_INFINITY): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body
      .on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) return body.destroy(new BodyTooLarge(maxBytes));
        if (deadline !== undefined && Date.now() > deadline) return body.destroy(timeoutError());
        chunks.push(chunk);
      })
      // The chunks joined once (what undici's arrayBuffer() does too, here where the benchmark's copy tally sees it).
      .once("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)))
      .once("error", reject)
      .once("close", () => reject(new Error("the answer's body closed before its end")));
  });
}

/** A provider's way out: its injected fetch, or undefined for the shared undici pool. */
export type Transport = FetchFunction | undefined;

/** What the readers below need of an answer, from either transport. */
interface Answer {
  status: number;
  header(name: string): string | null;
  bytes(): Promise<Buffer>;
  /** The body's chunks as they come; releasing the connection when the iteration ends early. */
  chunks(): AsyncIterable<Uint8Array>;
}

let pool: Undici.Agent | undefined;
/** One keep-alive pool for every upstream origin, made on first use. */
// Headers and idle-body timeouts are undici's 5 min (as the global fetch had) unless a call has a deadline of its own;
// a stream whose upstream goes silent mid-way still ends.
const sharedPool = (undici: typeof Undici) => (pool ??= new undici.Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 }));

/** POSTs `body`; `stream`: the answer is events, whose body the deadline does not bound. */
async function send(transport: Transport, url: string, headers: Record<string, string>, body: string, limits: CallLimits, stream: boolean): Promise<Answer> {
  const left = timeLeft(limits.deadline);
  if (transport) {
    // Off the hot path (tests, special runtimes): the deadline as a timer over the wait for the answer and, unless it
    // streams, its body; the request's signal reaches the fetch through a controller of the call's.
    const controller = new AbortController();
    const { signal } = limits;
    if (signal.aborted) controller.abort(signal.reason);
    else signal.addEventListener("abort", () => controller.abort(signal.reason), { once: true });
    const timer = left === undefined ? undefined : setTimeout(() => controller.abort(timeoutError()), left);
    let response: Response;
    try {
      response = await transport(url, { method: "POST", headers, body, signal: controller.signal });
    } catch (error) {
      clearTimeout(timer);
      throw error;
    }
    if (stream) clearTimeout(timer);
    return {
      status: response.status,
      header: (name) => response.headers.get(name),
      bytes: async () => {
        try {
          return Buffer.from(await response.arrayBuffer());
        } finally {
          clearTimeout(timer);
        }
      },
      async *chunks() {
        if (!response.body) return;
        const reader = response.body.getReader();
        try {
          for (;;) {
            const chunk = await reader.read();
            if (chunk.done) return;
            yield chunk.value;
          }
        } finally {
          await reader.cancel().catch(() => undefined);
        }
      },
    };
  }
  const undici = await loadUndici();
  const timeouts = left === undefined ? {} : stream ? { headersTimeout: left } : { headersTimeout: left, bodyTimeout: left };
  const answer = await undici.request(url, { method: "POST", headers, body, signal: limits.signal, dispatcher: sharedPool(undici), ...timeouts });
  return {
    status: answer.statusCode,
    header(name) {
      const value = answer.headers[name];
      return Array.isArray(value) ? value.join(", ") : (value ?? null);
    },
    bytes: () => readBody(answer.body, limits.deadline, MAX_ANSWER_BYTES),
    async *chunks() {
      try {
        for await (const chunk of answer.body) yield chunk as Uint8Array;
      } finally {
        answer.body.destroy();
      }
    },
  };
}

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
  transport: Transport,
  provider: string,
  url: string,
  headers: Record<string, string>,
  body: string,
  limits: CallLimits,
): Promise<UpstreamResponse> {
  let response: Answer;
  try {
    response = await send(transport, url, headers, body, limits, false);
  } catch (error) {
    throw networkFailure(error, limits.signal, provider);
  }
  return readAnswer(response, limits.signal, provider);
}

/** A response's body read as JSON (a 200 whose body is not JSON is malformed; an error page's body is dropped). */
async function readAnswer(response: Answer, signal: AbortSignal, provider: string): Promise<UpstreamResponse> {
  let body: Buffer;
  try {
    body = await response.bytes();
  } catch (error) {
    throw networkFailure(error, signal, provider);
  }
  let json: unknown;
  try {
    json = parseAnswer(body);
  } catch {
    if (response.status >= 200 && response.status < 300) throw upstreamMalformed(provider, `HTTP ${response.status}, body is not JSON`);
  }
  return { status: response.status, json, retryAfter: parseRetryAfter(response.header("retry-after")) };
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
  /** A refusal that could only come after the credentials were accepted (and is no fault of the account's): its line. */
  acceptedBy?: (error: UpstreamError) => string | undefined,
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
  const accepted = acceptedBy?.(error);
  if (accepted) return { ok: true, reachable: true, credentials: "accepted", detail: accepted };
  if (error.kind === "request") {
    return { ok: true, reachable: true, credentials: "accepted", detail: `credentials accepted; the deliberately invalid check request was refused as expected (${error.upstreamCode ?? error.code}), no image generated` };
  }
  if (error.kind === "provider") return { ok: false, reachable: true, credentials: "accepted", detail: `credentials accepted, but the account cannot generate: ${error.message}` };
  return { ok: false, reachable: true, credentials: "unknown", detail: `the upstream is reachable but failing right now: ${error.message}` };
}

export type { SseMessage } from "./sse.js";

/**
 * POSTs a request that answers with server-sent events: the events when the upstream answered 200 with
 * `text/event-stream`, else its answer read as `postJson` reads it (an error, a JSON body).
 */
export async function postForEvents(
  transport: Transport,
  provider: string,
  url: string,
  headers: Record<string, string>,
  body: string,
  limits: CallLimits,
): Promise<{ events: AsyncIterable<SseMessage> } | UpstreamResponse> {
  let response: Answer;
  try {
    response = await send(transport, url, { ...headers, accept: "text/event-stream" }, body, limits, true);
  } catch (error) {
    throw networkFailure(error, limits.signal, provider);
  }
  if (response.status === 200 && /text\/event-stream/i.test(response.header("content-type") ?? "")) {
    return { events: readEvents(response, limits.signal, provider) };
  }
  return readAnswer(response, limits.signal, provider);
}

/** The events of a response body, read from its bytes (providers/sse.ts); a broken connection throws the upstream error. */
async function* readEvents(response: Answer, signal: AbortSignal, provider: string): AsyncGenerator<SseMessage> {
  const reader = new SseReader();
  const chunks = response.chunks()[Symbol.asyncIterator]();
  try {
    for (;;) {
      let chunk: IteratorResult<Uint8Array>;
      try {
        chunk = await chunks.next();
      } catch (error) {
        throw networkFailure(error, signal, provider);
      }
      if (chunk.done) break;
      const value = chunk.value;
      let messages: SseMessage[];
      try {
        messages = reader.feed(Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      } catch (error) {
        throw networkFailure(error, signal, provider);
      }
      yield* messages;
    }
  } finally {
    await chunks.return?.();
  }
}

/** A failed fetch or body read as the contract's error: the caller's abort reason, a timeout, or an unreachable upstream. */
function networkFailure(error: unknown, signal: AbortSignal, provider: string): unknown {
  if (signal.aborted) {
    if (isTimeout(signal.reason)) return upstreamTimeout(provider);
    return signal.reason ?? error;
  }
  if (isTimeout(error)) return upstreamTimeout(provider);
  if (error instanceof BodyTooLarge || error instanceof EventTooLarge) return upstreamMalformed(provider, error.message);
  // fetch wraps the network error in `cause`; undici's request throws it as it is.
  const wrapped = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const cause = wrapped ?? (error as { code?: unknown; message?: unknown });
  const detail = typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" && cause.message ? scrub(cause.message).slice(0, 80) : "network error";
  return upstreamUnreachable(provider, detail);
}

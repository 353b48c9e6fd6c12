/**
 * The one place providers send HTTP: JSON in, parsed JSON (or server-sent events) out, network failures typed. By
 * default through undici's `request` on one keep-alive pool per process (no web streams, no `Response` objects: the
 * least a call can cost); a provider given a `fetch` (tests, special runtimes) uses it instead. The attempt timeout
 * is the caller's signal (the resilience layer's).
 */
import { createParser } from "eventsource-parser";
import type * as Undici from "undici";
import { loadUndici } from "../undici.js";
import { parseAnswer } from "./answer-json.js";
import type { CheckReport } from "./types.js";
import { scrub, upstreamMalformed, upstreamTimeout, upstreamUnreachable, type UpstreamError } from "./upstream-error.js";

export type FetchFunction = typeof globalThis.fetch;

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
// Headers and idle-body timeouts stay undici's (5 min, as the global fetch had): the attempt's signal is usually
// shorter, and a stream whose upstream goes silent mid-way still ends.
const sharedPool = (undici: typeof Undici) => (pool ??= new undici.Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 }));

async function send(transport: Transport, url: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<Answer> {
  if (transport) {
    const response = await transport(url, { method: "POST", headers, body, signal });
    return {
      status: response.status,
      header: (name) => response.headers.get(name),
      bytes: async () => Buffer.from(await response.arrayBuffer()),
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
  const answer = await undici.request(url, { method: "POST", headers, body, signal, dispatcher: sharedPool(undici) });
  return {
    status: answer.statusCode,
    header(name) {
      const value = answer.headers[name];
      return Array.isArray(value) ? value.join(", ") : (value ?? null);
    },
    // The chunks joined once (what undici's arrayBuffer() does too, here where the benchmark's copy tally sees it).
    // A body closed without its end (destroyed, no error given) rejects rather than leaving the request waiting.
    bytes: () =>
      new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        answer.body
          .on("data", (chunk: Buffer) => chunks.push(chunk))
          .once("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)))
          .once("error", reject)
          .once("close", () => reject(new Error("the answer's body closed before its end")));
      }),
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
  signal: AbortSignal,
): Promise<UpstreamResponse> {
  let response: Answer;
  try {
    response = await send(transport, url, headers, body, signal);
  } catch (error) {
    throw networkFailure(error, signal, provider);
  }
  return readAnswer(response, signal, provider);
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

/** One server-sent event as the upstream sent it. */
export interface SseMessage {
  event: string | undefined;
  data: string;
}

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
  signal: AbortSignal,
): Promise<{ events: AsyncIterable<SseMessage> } | UpstreamResponse> {
  let response: Answer;
  try {
    response = await send(transport, url, { ...headers, accept: "text/event-stream" }, body, signal);
  } catch (error) {
    throw networkFailure(error, signal, provider);
  }
  if (response.status === 200 && /text\/event-stream/i.test(response.header("content-type") ?? "")) {
    return { events: readEvents(response, signal, provider) };
  }
  return readAnswer(response, signal, provider);
}

/** The events of a response body, parsed by eventsource-parser; a broken connection throws the upstream error. */
async function* readEvents(response: Answer, signal: AbortSignal, provider: string): AsyncGenerator<SseMessage> {
  const queue: SseMessage[] = [];
  const parser = createParser({ onEvent: (message) => queue.push({ event: message.event, data: message.data }) });
  const decoder = new TextDecoder();
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
      parser.feed(decoder.decode(chunk.value, { stream: true }));
      while (queue.length > 0) yield queue.shift() as SseMessage;
    }
    parser.feed(decoder.decode());
    while (queue.length > 0) yield queue.shift() as SseMessage;
  } finally {
    await chunks.return?.();
  }
}

/** A failed fetch or body read as the contract's error: the caller's abort reason, a timeout, or an unreachable upstream. */
function networkFailure(error: unknown, signal: AbortSignal, provider: string): unknown {
  if (signal.aborted) {
    if ((signal.reason as Error | undefined)?.name === "TimeoutError") return upstreamTimeout(provider);
    return signal.reason ?? error;
  }
  // fetch wraps the network error in `cause`; undici's request throws it as it is.
  const wrapped = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const cause = wrapped ?? (error as { code?: unknown; message?: unknown });
  const detail = typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" && cause.message ? scrub(cause.message).slice(0, 80) : "network error";
  return upstreamUnreachable(provider, detail);
}

/**
 * `Idempotency-Key` on every generation endpoint: the same key and body within 24 h get the same answer (or
 * the same task id with `?async=true`) and never a second upstream call; the same key with another body is a
 * 409. The request runs once, in-process (`app.inject`, through the same auth, limits and ledger), and its answer
 * is kept. Streams are not replayable, so `stream: true` with an Idempotency-Key is a 400.
 *
 * `X-Client-Request-Id` (sent by Volcengine's Python SDKs) is kept the same way, in a namespace of its own, for a
 * JSON request that does not stream: the SDK makes a new id for every attempt, but a caller who sets it
 * (`extra_headers`) keeps it across the SDK's own retries, so a retry of a call that was charged gets the kept answer
 * instead of a second image. It is read once the body is parsed (a stream then runs as usual), and a malformed one is
 * ignored: the header is the SDK's, not a promise of the caller's. The id the SDK makes itself is not kept either: it is
 * new on every attempt, so keeping it could never answer a retry, and would cost every SDK call a stored answer.
 */
import { createHash } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ErrCode, GatewayError, invalidParameter, isPartUnavailable } from "../errors/errors.js";
import type { DurableWrites } from "../stores/durable.js";
import type { IdempotencyStore, IdempotentAnswer } from "../stores/idempotency.js";
import { asksForStream, onAsyncRoutePost, readBody, replayHeaders } from "../pipeline/replay.js";

export const IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000;
const HEADER = "idempotency-key";
const CLIENT_HEADER = "x-client-request-id";
const VALID_KEY = /^[\x21-\x7e]{1,255}$/;
/** What the Python SDK's `_gen_request_id()` makes: the local time as 14 digits, then 20 letters and digits. */
const SDK_GENERATED_ID = /^\d{14}[A-Za-z0-9]{20}$/;
/** Answer headers kept with the answer and replayed. */
const KEPT_HEADERS = ["content-type", "x-gateway-provider", "x-gateway-served-model", "x-gateway-model-lifecycle", "x-gateway-ignored", "deprecation", "sunset", "link", "retry-after", "retry-after-ms", "x-should-retry"];

export interface IdempotencyDeps {
  store: IdempotencyStore;
  /** Recorded on each claim, so that only a dead instance's unanswered claims are dropped. */
  instanceId?: string;
  bodyLimitBytes: number;
  now: () => number;
  /** Where a claim's answer or release waits while the database is away (an answer made is never lost to a failed write). */
  durable: DurableWrites;
}

/** Durable write kinds: a claim's answer kept, a claim released. */
const FINISH_WRITE = "idempotency.finish";
const RELEASE_WRITE = "idempotency.release";

const conflict = (message: string, messageCn: string, retryAfter?: number) =>
  new GatewayError({ status: 409, code: "IdempotencyConflict", param: "Idempotency-Key", type: "invalid_request_error", errCode: ErrCode.invalidRequest, message, messageCn, ...(retryAfter ? { retryAfter } : {}) });

export function registerIdempotency(app: FastifyInstance, deps: IdempotencyDeps): void {
  // The id of a claim's journalled writes: its key's id and the client's key, which holds no newline.
  const claimId = (keyId: string, idempotencyKey: string) => `${keyId}\n${idempotencyKey}`;
  const split = (id: string) => id.split("\n") as [string, string];
  deps.durable.register(FINISH_WRITE, (id, payload) => deps.store.finish(...split(id), payload as unknown as IdempotentAnswer));
  deps.durable.register(RELEASE_WRITE, (id) => deps.store.release(...split(id)));
  const release = (keyId: string, idempotencyKey: string) => deps.durable.perform(RELEASE_WRITE, claimId(keyId, idempotencyKey), {});
  // After the auth hook: only a valid key's requests are remembered, per key; only those that carry the header.
  app.addHook("onRequest", onAsyncRoutePost((request) => request.headers[HEADER] !== undefined, (request, reply) => remembered(request, reply)));
  const remembered = async (request: FastifyRequest, reply: FastifyReply) => {
    const idempotencyKey = request.headers[HEADER];
    if (!request.apiKey) return;
    if (typeof idempotencyKey !== "string" || !VALID_KEY.test(idempotencyKey)) {
      throw invalidParameter("Idempotency-Key", "Invalid parameter `Idempotency-Key`: must be 1 to 255 visible ASCII characters, e.g. a UUID.", "参数 `Idempotency-Key` 无效：必须是 1 到 255 个可见 ASCII 字符，例如 UUID。");
    }
    const payload = await readBody(request, deps.bodyLimitBytes);
    if (asksForStream(payload)) {
      throw invalidParameter("stream", "Invalid parameter `stream`: a streamed answer cannot be replayed; send stream: true without an Idempotency-Key.", "参数 `stream` 无效：流式回答无法重放，请不要同时发送 Idempotency-Key。");
    }
    return answerOnce(request, reply, idempotencyKey, payload);
  };

  // X-Client-Request-Id without an Idempotency-Key: after parsing, so that a stream is told apart without reading the body twice.
  // (An `?async=true` request never gets here: the async hook answered it in onRequest.)
  const clientRequestId = (request: FastifyRequest) => {
    const id = request.headers[CLIENT_HEADER];
    const body = request.body as Record<string, unknown> | undefined;
    return typeof id === "string" && request.headers[HEADER] === undefined && request.apiKey !== null && VALID_KEY.test(id) && !SDK_GENERATED_ID.test(id) &&
      typeof body === "object" && body !== null && body.stream !== true;
  };
  // The parsed body written back: the same bytes for the same body on every retry (the route has not changed it yet).
  app.addHook("preHandler", onAsyncRoutePost(clientRequestId, (request, reply) =>
    answerOnce(request, reply, `client-request-id:${String(request.headers[CLIENT_HEADER])}`, Buffer.from(JSON.stringify(request.body)))));

  const answerOnce = async (request: FastifyRequest, reply: FastifyReply, idempotencyKey: string, payload: Buffer) => {
    const key = request.apiKey as NonNullable<FastifyRequest["apiKey"]>;
    const bodyHash = createHash("sha256").update(`${request.url}\n${request.headers["content-type"] ?? ""}\n`).update(payload).digest("hex");
    const now = deps.now();
    const since = now - IDEMPOTENCY_WINDOW_MS;
    const existing = await deps.store.get(key.id, idempotencyKey, since);
    if (existing && existing.bodyHash !== bodyHash) {
      throw conflict(
        `This Idempotency-Key was used in the last 24 h with another request (another body or URL); use a new key for a new request.`,
        "该 Idempotency-Key 在 24 小时内已用于另一个请求（请求体或 URL 不同），新请求请使用新的 key。",
      );
    }
    if (existing?.state === "done") {
      for (const [name, value] of Object.entries(existing.answer.headers)) reply.header(name, value);
      return reply.code(existing.answer.statusCode).header("idempotent-replayed", "true").type(existing.answer.contentType).send(existing.answer.body);
    }
    let begun: boolean;
    try {
      begun = !existing && (await deps.store.begin(key.id, idempotencyKey, bodyHash, now, since, deps.instanceId));
    } catch (error) {
      // A claim whose reply was lost would answer 409 to every retry: released (now, or when the database is back).
      if (isPartUnavailable(error)) await release(key.id, idempotencyKey).catch(() => undefined);
      throw error;
    }
    if (!begun) {
      throw conflict("A request with this Idempotency-Key is still being answered; retry in a moment to get its answer.", "使用该 Idempotency-Key 的请求仍在处理中，请稍后重试以获取其结果。", 1);
    }
    const headers = replayHeaders(request, [HEADER, CLIENT_HEADER]);
    let response;
    try {
      response = await app.inject({ method: "POST", url: request.url, headers, payload });
    } catch (error) {
      await release(key.id, idempotencyKey);
      throw error;
    }
    const kept = Object.fromEntries(KEPT_HEADERS.flatMap((name) => (response.headers[name] !== undefined ? [[name, String(response.headers[name])]] : [])));
    const contentType = String(response.headers["content-type"] ?? "application/json");
    // A 5xx or a 429 is not an answer to keep: the same request should run again when retried.
    // Either write waits for the database if it must: the answer made (and charged) goes to the client now.
    if (response.statusCode >= 500 || response.statusCode === 429) await release(key.id, idempotencyKey);
    else await deps.durable.perform(FINISH_WRITE, claimId(key.id, idempotencyKey), { statusCode: response.statusCode, contentType, headers: kept, body: response.body });
    for (const [name, value] of Object.entries(kept)) reply.header(name, value);
    return reply.code(response.statusCode).type(contentType).send(response.body);
  };
}

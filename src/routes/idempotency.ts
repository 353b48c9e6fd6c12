/**
 * `Idempotency-Key` on every generation endpoint: the same key and body within 24 h get the same answer (or
 * the same task id with `?async=true`) and never a second upstream call; the same key with another body is a
 * 409. The request runs once, in-process (`app.inject`, through the same auth, limits and ledger), and its answer
 * is kept. Streams are not replayable, so `stream: true` with an Idempotency-Key is a 400.
 */
import { createHash } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ErrCode, GatewayError, invalidParameter } from "../errors.js";
import type { IdempotencyStore } from "../stores/idempotency.js";
import { asksForStream, onAsyncRoutePost, readBody, replayHeaders } from "./async.js";

export const IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000;
const HEADER = "idempotency-key";
/** Answer headers kept with the answer and replayed. */
const KEPT_HEADERS = ["content-type", "x-gateway-provider", "x-gateway-served-model", "x-gateway-model-lifecycle", "x-gateway-ignored", "deprecation", "sunset", "link", "retry-after"];

export interface IdempotencyDeps {
  store: IdempotencyStore;
  /** Recorded on each claim, so that only a dead instance's unanswered claims are dropped. */
  instanceId?: string;
  bodyLimitBytes: number;
  now: () => number;
}

const conflict = (message: string, messageCn: string, retryAfter?: number) =>
  new GatewayError({ status: 409, code: "IdempotencyConflict", param: "Idempotency-Key", type: "invalid_request_error", errCode: ErrCode.invalidRequest, message, messageCn, ...(retryAfter ? { retryAfter } : {}) });

export function registerIdempotency(app: FastifyInstance, deps: IdempotencyDeps): void {
  // After the auth hook: only a valid key's requests are remembered, per key; only those that carry the header.
  app.addHook("onRequest", onAsyncRoutePost((request) => request.headers[HEADER] !== undefined, (request, reply) => remembered(request, reply)));
  const remembered = async (request: FastifyRequest, reply: FastifyReply) => {
    const idempotencyKey = request.headers[HEADER];
    const key = request.apiKey;
    if (!key) return;
    if (typeof idempotencyKey !== "string" || !/^[\x21-\x7e]{1,255}$/.test(idempotencyKey)) {
      throw invalidParameter("Idempotency-Key", "Invalid parameter `Idempotency-Key`: must be 1 to 255 visible ASCII characters, e.g. a UUID.", "参数 `Idempotency-Key` 无效：必须是 1 到 255 个可见 ASCII 字符，例如 UUID。");
    }
    const payload = await readBody(request, deps.bodyLimitBytes);
    if (asksForStream(payload)) {
      throw invalidParameter("stream", "Invalid parameter `stream`: a streamed answer cannot be replayed; send stream: true without an Idempotency-Key.", "参数 `stream` 无效：流式回答无法重放，请不要同时发送 Idempotency-Key。");
    }
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
    if (existing || !(await deps.store.begin(key.id, idempotencyKey, bodyHash, now, since, deps.instanceId))) {
      throw conflict("A request with this Idempotency-Key is still being answered; retry in a moment to get its answer.", "使用该 Idempotency-Key 的请求仍在处理中，请稍后重试以获取其结果。", 1);
    }
    const headers = replayHeaders(request, [HEADER]);
    let response;
    try {
      response = await app.inject({ method: "POST", url: request.url, headers, payload });
    } catch (error) {
      await deps.store.release(key.id, idempotencyKey);
      throw error;
    }
    const kept = Object.fromEntries(KEPT_HEADERS.flatMap((name) => (response.headers[name] !== undefined ? [[name, String(response.headers[name])]] : [])));
    const contentType = String(response.headers["content-type"] ?? "application/json");
    // A 5xx or a 429 is not an answer to keep: the same request should run again when retried.
    if (response.statusCode >= 500 || response.statusCode === 429) await deps.store.release(key.id, idempotencyKey);
    else await deps.store.finish(key.id, idempotencyKey, { statusCode: response.statusCode, contentType, headers: kept, body: response.body });
    for (const [name, value] of Object.entries(kept)) reply.header(name, value);
    return reply.code(response.statusCode).type(contentType).send(response.body);
  };
}

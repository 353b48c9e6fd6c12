/**
 * Replaying a request in-process (`app.inject`): what a task's run and an idempotent replay share — the body read
 * before Fastify parses it, the headers that go with it, and the hook that picks out the POSTs a route lets run as a
 * task (its `async` config).
 */
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from "fastify";
import { invalidRequest } from "../errors/errors.js";

/** The headers a task's run carries in place of the client's Authorization (see the auth hook in server/app.ts). */
export const TASK_TOKEN_HEADER = "x-gateway-task-token";
export const TASK_KEY_HEADER = "x-gateway-task-key";

/** Request headers that describe the connection rather than the request, or that are this gateway's own; not replayed. */
const HOP_HEADERS = new Set(["host", "connection", "content-length", "transfer-encoding", "keep-alive", "expect", "upgrade", TASK_TOKEN_HEADER, TASK_KEY_HEADER]);

/** The body of a request, read up to the limit (a 413 past it), before Fastify parses it. */
export async function readBody(request: FastifyRequest, limit: number): Promise<Buffer> {
  const declared = Number(request.headers["content-length"] ?? Number.NaN);
  const tooLarge = () => invalidRequest(413, "PayloadTooLarge", `The request body is larger than the limit of ${limit} bytes.`, `请求体超过 ${limit} 字节的上限。`);
  if (declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request.raw) {
    total += (chunk as Buffer).length;
    if (total > limit) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

/** Whether a request body asks for a stream (which neither an async task nor an idempotent replay can carry). */
export function asksForStream(payload: Buffer): boolean {
  return /"stream"\s*:\s*true/.test(payload.toString("utf8", 0, Math.min(payload.length, 1 << 20)));
}

/** The headers to replay a request in-process with (`app.inject`): the connection's own left out, and any of `omit`. */
export function replayHeaders(request: FastifyRequest, omit: readonly string[] = []): Record<string, string> {
  return Object.fromEntries(Object.entries(request.headers).filter(([name]) => !HOP_HEADERS.has(name) && !omit.includes(name))) as Record<string, string>;
}

/**
 * An onRequest hook for the POSTs to the routes that may run as tasks, where `applies` picks them out: every other
 * request passes on at once, without a promise (a Fastify hook calls `done` or returns a promise, never both).
 */
export function onAsyncRoutePost(
  applies: (request: FastifyRequest) => boolean,
  run: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
): onRequestHookHandler {
  return (request, reply, done) => {
    if (request.method !== "POST" || !applies(request) || request.routeOptions.config.async !== true) return done();
    return run(request, reply);
  };
}


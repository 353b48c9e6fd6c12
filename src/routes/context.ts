/** Per-request helpers shared by the route files. */
import type { FastifyReply, FastifyRequest } from "fastify";
import { invalidRequest } from "../errors.js";

/**
 * Aborts when the client goes away before the answer is sent: in-flight upstream calls and input
 * downloads are cancelled. Deadlines are the resilience layer's (pipeline/resilience.ts).
 */
export function requestSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) controller.abort(new Error("client disconnected"));
  });
  return controller.signal;
}

/** The body must be a JSON object; anything else is a 400 before field validation. */
export function requireObject(request: FastifyRequest): Record<string, unknown> {
  const body = request.body;
  if (body === undefined) {
    throw invalidRequest(400, "MissingParameter", "The request body is empty; send a JSON object with Content-Type: application/json.", "请求体为空，请以 application/json 发送 JSON 对象。");
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw invalidRequest(400, "InvalidParameter", "The request body must be a JSON object.", "请求体必须是 JSON 对象。");
  }
  return body as Record<string, unknown>;
}

export const unixSeconds = (date: Date = new Date()) => Math.floor(date.getTime() / 1000);

/** `POST /doubao/drawing` (CONTRACT.md §2.3, §3.2) and `POST /doubao/drawing/portrait` (§2.4, §3.3). */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { requestSignal } from "../pipeline/context.js";
import { serve } from "../pipeline/serve.js";
import { VISUAL_KINDS } from "../models/kinds/kind.js";
import type { RouteDeps } from "../pipeline/ark-answers.js";

export function registerDrawingRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const visual = (kind: keyof typeof VISUAL_KINDS) => async (request: FastifyRequest, reply: FastifyReply) => {
    const target = { request, reply, deps, signal: requestSignal(reply), dialect: "volcengine" as const };
    return serve(target, await VISUAL_KINDS[kind].plan(target));
  };
  app.post("/doubao/drawing", { config: { async: true, dialect: "volcengine" } }, visual("drawing"));
  app.post("/doubao/drawing/portrait", { config: { async: true, dialect: "volcengine" } }, visual("portrait"));
}

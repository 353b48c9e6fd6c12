/** `POST /doubao/drawing` (CONTRACT.md §2.3, §3.2) and `POST /doubao/drawing/portrait` (§2.4, §3.3). */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { requestSignal } from "../pipeline/context.js";
import { serve } from "../pipeline/serve.js";
import { drawingKindOf, VISUAL_KINDS, type VisualKind } from "../models/kinds/kind.js";
import type { RouteDeps } from "../pipeline/ark-answers.js";

export function registerDrawingRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const visual = (kindOf: (request: FastifyRequest) => VisualKind) => async (request: FastifyRequest, reply: FastifyReply) => {
    const target = { request, reply, deps, signal: requestSignal(reply), dialect: "volcengine" as const };
    return serve(target, await kindOf(request).plan(target));
  };
  // The model is the body's model_version (an alias answered by its id); its kind plans the request.
  const named = (request: FastifyRequest) => {
    const version = (request.body as { model_version?: unknown } | null | undefined)?.model_version;
    return typeof version === "string" ? deps.router.models.find(version) : undefined;
  };
  app.post("/doubao/drawing", { config: { async: true, dialect: "volcengine" } }, visual((request) => drawingKindOf(named(request))));
  app.post("/doubao/drawing/portrait", { config: { async: true, dialect: "volcengine" } }, visual(() => VISUAL_KINDS.portrait));
}

/**
 * `POST /doubao/images/generations`, `/api/v3/images/generations` and `/v1/images/generations` (CONTRACT.md §2.1,
 * §2.2, §3.1; LIVE-MODELS.md §2): the transport only. The model table's entry names the kind (models/kinds/) that
 * plans the request — or, for a retired model, translates it for its replacement — and `serve` runs the plan.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { arkModelField } from "../api/schemas.js";
import { dropNulls } from "../api/nulls.js";
import { parseOrThrow } from "../api/validate.js";
import { invalidParameter } from "../errors/errors.js";
import { lifecycleHeaders } from "../models/lifecycle.js";
import { KIND_FAMILY } from "../models/types.js";
import { type PipelineDeps } from "../pipeline/generate.js";
import { routeConfig } from "../api/route-config.js";
import { requestSignal, requireObject } from "../pipeline/context.js";
import { replacementFor, type RouteDeps } from "../pipeline/ark-answers.js";
import { serve } from "../pipeline/serve.js";
import { imagesKindOf } from "../models/kinds/kind.js";
import { openAiLeniency } from "../api/nulls.js";

/** The 400 for a model that is not an image model of this endpoint. */
function notServedHere(deps: PipelineDeps, model: string) {
  const ids = deps.router.models.entries.filter((entry) => KIND_FAMILY[entry.kind] === "ark").map((entry) => entry.id);
  return invalidParameter("model", `Invalid parameter \`model\`: "${model.slice(0, 80)}" is not served on this endpoint; use one of ${ids.join(", ")}.`);
}

export function registerImageRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const dialect = routeConfig(request).dialect ?? "ark";
    const body = requireObject(request);
    dropNulls(body);
    if (dialect === "openai") {
      openAiLeniency(body);
      // OpenAI's model is optional (the openai SDK and OpenAI-shaped clients may leave it out): the configured default serves.
      if (body.model === undefined) body.model = deps.router.models.defaultModel;
    }
    const { model: asked } = parseOrThrow(arkModelField, body);
    const entry = deps.router.models.find(asked);
    const kind = entry && KIND_FAMILY[entry.kind] === "ark" ? imagesKindOf(entry) : undefined;
    if (!entry || !kind) throw notServedHere(deps, asked);
    for (const [name, value] of Object.entries(lifecycleHeaders(entry, deps.router.models))) reply.header(name, value);
    // The answer names the model asked for by its id (an alias is answered with the id; a retired model keeps its own).
    const replacement = entry.lifecycle.state === "retired" ? replacementFor(reply, deps, entry) : undefined;
    const target = { request, reply, deps, signal: requestSignal(reply), dialect };
    if (replacement) return serve(target, await kind.translate(target, replacement, body));
    body.model = entry.id;
    return serve(target, await kind.plan(target, body));
  };
  app.post("/doubao/images/generations", { config: { async: true } }, handler);
  // Ark's own path: a client configured with Ark's base URL (`https://ark.cn-beijing.volces.com/api/v3`) changes only the host.
  app.post("/api/v3/images/generations", { config: { async: true } }, handler);
  app.post("/v1/images/generations", { config: { async: true, dialect: "openai" } }, handler);
}


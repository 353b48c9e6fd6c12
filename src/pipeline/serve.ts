/**
 * One generation plan, one way to serve it. A model kind (models/kinds/) turns a request into a `GenerationPlan` —
 * what is reserved, the calls (the fan-out decided there, once), how the images are delivered and the form of the
 * answer — and `serve` does the rest the same way for every kind and route: admits it under the key's limits and
 * quotas, runs the calls through the pipeline, settles what was delivered and answers, as JSON or as a stream.
 */
import type { DrawingResponse, PortraitResponse, VolcengineEnvelope } from "@doubao-gateway/sdk";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ResponseFormat } from "../api/schemas.js";
import { sendClassicImages, sendSeedream4Images, type RouteDeps } from "./ark-answers.js";
import { accounted, hooksOf, settleDelivered } from "./context.js";
import { runGeneration, type Generation } from "./generate.js";
import type { GenerationPlan } from "./plan.js";
import { streamToClient } from "./stream.js";

/** A request being served: its transport and the gateway's parts, and the signal that aborts when its client goes away. */
export interface ServeTarget {
  request: FastifyRequest;
  reply: FastifyReply;
  deps: RouteDeps;
  signal: AbortSignal;
}

export function serve(target: ServeTarget, plan: GenerationPlan): Promise<unknown> {
  const { request, reply, deps, signal } = target;
  const startedAt = performance.now();
  const created = new Date();
  return accounted(request, reply, deps.accounts, plan.work, async (admission) => {
    const { delivery } = plan;
    const common = { deps, clientModel: delivery.clientModel, servedModel: delivery.servedModel, format: delivery.format, signal, log: request.log, admission };
    switch (plan.answer) {
      case "classic":
        return sendClassicImages({ reply, ...common, resizeTo: delivery.resizeTo, expected: delivery.expected }, plan.calls);
      case "seedream-4":
        return sendSeedream4Images({ reply, ...common, resizeTo: delivery.resizeTo, ...(delivery.failedImages ? { failedImages: delivery.failedImages } : {}) }, plan.calls, plan.withFormat);
      case "stream": {
        const openai = plan.dialect === "openai";
        const job = { model: delivery.servedModel, call: plan.call, format: openai ? "b64_json" as const : delivery.format, signal, expected: undefined, log: request.log, hooks: hooksOf(admission), resizeTo: delivery.resizeTo };
        return streamToClient({ request, reply, deps, admission }, job, {
          flavour: openai ? "openai" : "ark", clientModel: delivery.clientModel, keepAliveMs: deps.streamKeepAliveMs ?? 15_000, failedImages: plan.delivery.failedImages,
        });
      }
      case "drawing":
      case "portrait": {
        const generation = await runGeneration(deps, {
          model: delivery.servedModel, call: plan.call, format: delivery.format, signal, expected: delivery.expected, log: request.log, hooks: hooksOf(admission),
        });
        await settleDelivered(admission, { images: generation.images, provider: generation.provider.id, upstreamRequestId: generation.upstreamRequestId, errorCode: null });
        reply.header("x-gateway-provider", generation.provider.label);
        const body = envelope(generation, delivery.format, request.id, startedAt);
        // Returned, not sent: the request's concurrency slot is freed (pipeline/context.ts) before Fastify sends it.
        reply.code(200);
        if (plan.answer === "portrait") return { ...body, status: 10000 } satisfies PortraitResponse;
        return {
          completed_at: new Date().toISOString(), created_at: created.toISOString(), error: "", id: request.id, model: delivery.clientModel,
          output: body.data.image_urls[0] ?? "", started_at: created.toISOString(), status: "succeeded", ...body,
        } satisfies DrawingResponse;
      }
    }
  });
}

/** Volcengine's envelope around a Visual generation, as 302.AI's drawing routes answer. */
function envelope(generation: Generation, format: ResponseFormat, requestId: string, startedAt: number): VolcengineEnvelope {
  const extras = generation.extras;
  return {
    code: 10000,
    message: "Success",
    request_id: requestId,
    time_elapsed: `${((performance.now() - startedAt) / 1000).toFixed(6)}s`,
    data: {
      image_urls: format === "url" ? generation.images.map((image) => image.url as string) : [],
      binary_data_base64: format === "b64_json" ? generation.images.map((image) => image.b64 as string) : [],
      algorithm_base_resp: { status_code: 0, status_message: "Success" },
      llm_result: extras?.llm_result ?? "",
      pe_result: extras?.pe_result ?? "",
      predict_tags_result: extras?.predict_tags_result ?? "",
      rephraser_result: extras?.rephraser_result ?? "",
      request_id: extras?.request_id ?? "",
      vlm_result: extras?.vlm_result ?? "",
    },
  };
}

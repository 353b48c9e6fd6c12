/** `POST /doubao/drawing` (CONTRACT.md §2.3, §3.2) and `POST /doubao/drawing/portrait` (§2.4, §3.3). */
import type { DrawingResponse, PortraitResponse, VolcengineEnvelope } from "@doubao-gateway/sdk";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { PORTRAIT_MODEL } from "../api/models.js";
import { drawingRequest, portraitQuery, portraitRequest, type ResponseFormat } from "../api/schemas.js";
import { parseOrThrow } from "../api/validate.js";
import type { Admission } from "../accounts/accounts.js";
import { runGeneration, type Generation } from "../pipeline/generate.js";
import { loadInputImage } from "../pipeline/input-image.js";
import { accounted, hooksOf, requestSignal, requireObject, settleDelivered } from "../pipeline/context.js";
import type { RouteDeps } from "../pipeline/ark-answers.js";

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

/** Records what a drawing or portrait request delivered, before the answer is sent. */
const settle = (admission: Admission, generation: Generation) =>
  settleDelivered(admission, { images: generation.images, provider: generation.provider.id, upstreamRequestId: generation.upstreamRequestId, errorCode: null });

export function registerDrawingRoutes(app: FastifyInstance, deps: RouteDeps): void {
  app.post("/doubao/drawing", { config: { async: true, dialect: "volcengine" } }, async (request: FastifyRequest, reply: FastifyReply) => {
    const startedAt = performance.now();
    const created = new Date();
    const raw = requireObject(request);
    if (typeof raw.model_version === "string") raw.model_version = deps.router.canonical(raw.model_version);
    const input = parseOrThrow(drawingRequest, raw);
    const format: ResponseFormat = input.return_url ? "url" : "b64_json";
    const scale = input.use_sr ? 2 : 1;
    return accounted(request, reply, deps.accounts, { model: input.model_version, images: 1 }, async (admission) => {
      const generation = await runGeneration(deps, {
        model: input.model_version,
        call: {
          operation: "visual.drawing", modelVersion: input.model_version, prompt: input.prompt, reqScheduleConf: input.req_schedule_conf,
          llmSeed: input.llm_seed, seed: input.seed, scale: input.scale, ddimSteps: input.ddim_steps, width: input.width, height: input.height,
          usePreLlm: input.use_pre_llm, useSr: input.use_sr, srSeed: input.sr_seed, srStrength: input.sr_strength, srScale: input.sr_scale,
          srSteps: input.sr_steps, isOnlySr: input.is_only_sr, logo: input.logo_info,
        },
        format,
        signal: requestSignal(reply),
        expected: { width: input.width * scale, height: input.height * scale },
        log: request.log,
        hooks: hooksOf(admission),
      });
      await settle(admission, generation);
      reply.header("x-gateway-provider", generation.provider.label);
      const body = envelope(generation, format, request.id, startedAt);
      const answer: DrawingResponse = {
        completed_at: new Date().toISOString(),
        created_at: created.toISOString(),
        error: "",
        id: request.id,
        model: input.model_version,
        output: body.data.image_urls[0] ?? "",
        started_at: created.toISOString(),
        status: "succeeded",
        ...body,
      };
      // Returned, not sent: the request's concurrency slot is freed (routes/context.ts) before Fastify sends it.
      reply.code(200);
      return answer;
    });
  });

  app.post("/doubao/drawing/portrait", { config: { async: true, dialect: "volcengine" } }, async (request: FastifyRequest, reply: FastifyReply) => {
    const startedAt = performance.now();
    const { response_format: format } = parseOrThrow(portraitQuery, request.query ?? {});
    const input = parseOrThrow(portraitRequest, requireObject(request));
    const signal = requestSignal(reply);
    // The photo is checked before admission: a request refused for its input is not recorded and uses no rate or concurrency slot.
    const image = await loadInputImage(input.image_input, { field: "image_input", checkRatio: false }, deps, signal);
    return accounted(request, reply, deps.accounts, { model: PORTRAIT_MODEL, images: 1, referenceImages: 1 }, async (admission) => {
      const prompt = input.prompt?.trim() ? input.prompt : undefined;
      const generation = await runGeneration(deps, {
        model: PORTRAIT_MODEL,
        call: {
          operation: "visual.portrait", image, prompt, width: input.width, height: input.height, gpen: input.gpen, skin: input.skin,
          skinUnifi: input.skin_unifi, genMode: input.gen_mode ?? (prompt ? "creative" : "reference"), seed: input.seed,
        },
        format,
        signal,
        expected: { width: input.width, height: input.height },
        log: request.log,
        hooks: hooksOf(admission),
      });
      await settle(admission, generation);
      reply.header("x-gateway-provider", generation.provider.label);
      const answer: PortraitResponse = { ...envelope(generation, format, request.id, startedAt), status: 10000 };
      // Returned, not sent: the request's concurrency slot is freed (routes/context.ts) before Fastify sends it.
      reply.code(200);
      return answer;
    });
  });
}

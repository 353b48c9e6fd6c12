/**
 * `POST /doubao/images/generations` and `POST /v1/images/generations` (CONTRACT.md §2.1, §2.2, §3.1;
 * LIVE-MODELS.md §2): the model table decides what a request is — a Seedream 4.x/5.x request (validated
 * from the model's capabilities), a Seedream 3.0 / SeedEdit 3.0 request served as it is, or one for a
 * retired model served by its replacement, translated so the client's contract holds.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { SEEDEDIT_3_I2I, SEEDREAM_3_T2I } from "../api/models.js";
import { arkModelField, seededitRequest, seededitRequestV1, seedream4Request, seedream4RequestV1, seedreamRequest, seedreamRequestV1, type Seedream4Request, type SeededitRequest, type SeedreamRequest } from "../api/schemas.js";
import { dropNulls } from "../api/nulls.js";
import { parseOrThrow } from "../api/validate.js";
import { invalidParameter } from "../errors.js";
import { SEEDREAM_4_FORMATS } from "../images/inspect.js";
import { checkCapabilities, mostImages } from "../models/capabilities.js";
import { lifecycleHeaders } from "../models/lifecycle.js";
import { KIND_FAMILY, type Capabilities, type ModelEntry, type Seedream4Entry } from "../models/types.js";
import { type PipelineDeps } from "../pipeline/generate.js";
import { loadInputImage } from "../pipeline/input-image.js";
import type { ArkSeedreamCall, InputImage } from "../providers/types.js";
import { routeConfig } from "../api/route-config.js";
import { accounted, failedImagesOf, hooksOf, requestSignal, requireObject } from "../pipeline/context.js";
import { streamToClient } from "../pipeline/stream.js";
import { replacementFor, sendClassic, sendSeedream4Images, serveTranslated, type ArkRequestContext, type RouteDeps } from "../pipeline/ark-answers.js";
import { translateSize } from "../models/translate.js";
import { openAiLeniency } from "../api/nulls.js";

/** The 400 for a model that is not an image model of this endpoint. */
function notServedHere(deps: PipelineDeps, model: string) {
  const ids = deps.router.models.entries.filter((entry) => KIND_FAMILY[entry.kind] === "ark").map((entry) => entry.id);
  return invalidParameter("model", `Invalid parameter \`model\`: "${model.slice(0, 80)}" is not served on this endpoint; use one of ${ids.join(", ")}.`);
}

/**
 * A Seedream 3.0 or SeedEdit 3.0 request (CONTRACT.md §2.1, §2.2), whether its model serves it or a replacement
 * does: its fields by the contract's schema, and SeedEdit's input image loaded and checked (before admission).
 */
async function classicRequest(entry: ModelEntry, body: Record<string, unknown>, v1: boolean, deps: PipelineDeps, signal: AbortSignal) {
  if (entry.kind === "seededit-3") {
    const input: SeededitRequest = { n: 1, ...parseOrThrow(v1 ? seededitRequestV1 : seededitRequest, { ...body, model: SEEDEDIT_3_I2I }) };
    return { input, image: await loadInputImage(input.image, { field: "image", checkRatio: true }, deps, signal) };
  }
  const input: SeedreamRequest = { n: 1, ...parseOrThrow(v1 ? seedreamRequestV1 : seedreamRequest, { ...body, model: SEEDREAM_3_T2I }) };
  return { input, image: undefined };
}

/** One request to an images route: its transport, the gateway's parts, and whether it speaks OpenAI's dialect. */
interface ImagesRequest {
  request: FastifyRequest;
  reply: FastifyReply;
  deps: RouteDeps;
  v1: boolean;
}

/** A request whose model is retired: served by its replacement in the client's shape, or 410. */
async function serveRetired({ request, reply, deps, v1 }: ImagesRequest, entry: ModelEntry, body: Record<string, unknown>, clientModel: string) {
  const replacement = replacementFor(reply, deps, entry);
  const signal = requestSignal(reply);
  const { input, image } = await classicRequest(entry, body, v1, deps, signal);
  return serveTranslated(request, reply, deps, { entry, replacement, input, image, signal, clientModel });
}

/** The reference images of a 4.x/5.x request, each through the SSRF-safe fetch and the input checks. */
async function loadReferences(value: string | string[] | undefined, capabilities: Capabilities, deps: PipelineDeps, signal: AbortSignal): Promise<InputImage[]> {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  const ratio = { min: capabilities.sizes.min_ratio, max: capabilities.sizes.max_ratio };
  return Promise.all(list.map((item, index) =>
    loadInputImage(item, { field: Array.isArray(value) ? `image.${index}` : "image", checkRatio: false, ratio, formats: SEEDREAM_4_FORMATS }, deps, signal),
  ));
}

/**
 * A 4.x/5.x request: validated from the serving model's entry, reference images checked, then answered or
 * streamed. `asked` is the model the client named when it is retired and `entry` its replacement: the
 * request is then translated (its size) and answered under the asked model's id.
 */
async function serveSeedream4({ request, reply, deps, v1 }: ImagesRequest, entry: Seedream4Entry, body: Record<string, unknown>, asked: ModelEntry = entry) {
  const { capabilities } = entry;
  const clientModel = asked.id;
  let resizeTo: { width: number; height: number } | undefined;
  if (asked !== entry && typeof body.size === "string") ({ size: body.size, resizeTo } = translateSize(capabilities, body.size));
  const input: Seedream4Request = { n: 1, ...parseOrThrow(v1 ? seedream4RequestV1 : seedream4Request, body) };
  checkCapabilities(entry, input);
  if (input.stream && input.n > 1) throw invalidParameter("n", "Invalid parameter `n`: n > 1 cannot be combined with stream; use sequential_image_generation \"auto\" for several images in one stream.");
  const failedImages = failedImagesOf(request);
  const ignored = (["seed", "guidance_scale"] as const).filter((field) => body[field] !== undefined);
  if (ignored.length > 0) reply.header("x-gateway-ignored", ignored.join(", "));
  const signal = requestSignal(reply);
  const images = await loadReferences(input.image, capabilities, deps, signal);
  const call: ArkSeedreamCall = {
    operation: "ark.seedream", model: entry.id, prompt: input.prompt, images, size: input.size, watermark: input.watermark,
    optimizePrompt: input.optimize_prompt_options, sequential: input.sequential_image_generation,
    maxImages: input.sequential_image_generation === "auto" ? mostImages(entry, input) : undefined,
    outputFormat: input.output_format as "jpeg" | "png" | undefined, tools: input.tools,
  };
  const work = { model: asked.id, servedModel: entry.id, images: mostImages(entry, input), referenceImages: images.length };
  return accounted(request, reply, deps.accounts, work, async (admission) => {
    const context: ArkRequestContext = { reply, deps, clientModel, servedModel: entry.id, format: input.response_format, signal, log: request.log, admission, resizeTo, failedImages };
    if (input.stream) {
      const job = { model: entry.id, call, format: v1 ? "b64_json" as const : input.response_format, signal, expected: undefined, log: request.log, hooks: hooksOf(admission), resizeTo };
      return streamToClient(request, reply, deps, admission, job, {
        flavour: v1 ? "openai" : "ark", clientModel, keepAliveMs: deps.streamKeepAliveMs ?? 15_000, failedImages,
      });
    }
    return sendSeedream4Images(context, Array.from({ length: input.n }, () => call), capabilities.output_formats.length > 1);
  });
}

export function registerImageRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const v1 = routeConfig(request).dialect === "openai";
    const body = requireObject(request);
    dropNulls(body);
    if (v1) openAiLeniency(body);
    // OpenAI's model is optional (the openai SDK and OpenAI-shaped clients may leave it out): the configured default serves.
    if (v1 && body.model === undefined) body.model = deps.router.models.defaultModel;
    const { model: asked } = parseOrThrow(arkModelField, body);
    const entry = deps.router.models.find(asked);
    if (!entry || KIND_FAMILY[entry.kind] !== "ark") throw notServedHere(deps, asked);
    // The answer names the model asked for by its id (an alias is answered with the id; a retired model keeps its own).
    const clientModel = entry.id;
    for (const [name, value] of Object.entries(lifecycleHeaders(entry, deps.router.models))) reply.header(name, value);
    if (entry.lifecycle.state === "retired") {
      if (entry.kind !== "seedream-4") return serveRetired({ request, reply, deps, v1 }, entry, body, clientModel);
      const replacement = replacementFor(reply, deps, entry);
      return serveSeedream4({ request, reply, deps, v1 }, replacement, { ...body, model: replacement.id }, entry);
    }
    body.model = entry.id;
    if (entry.kind === "seedream-4") return serveSeedream4({ request, reply, deps, v1 }, entry, body);
    const signal = requestSignal(reply);
    const { input, image } = await classicRequest(entry, body, v1, deps, signal);
    return accounted(request, reply, deps.accounts, { model: entry.id, images: input.n, referenceImages: image ? 1 : 0 }, (admission) =>
      sendClassic(request, reply, { deps, admission, input, image, signal, clientModel }),
    );
  };
  app.post("/doubao/images/generations", { config: { async: true } }, handler);
  // Ark's own path: a client configured with Ark's base URL (`https://ark.cn-beijing.volces.com/api/v3`) changes only the host.
  app.post("/api/v3/images/generations", { config: { async: true } }, handler);
  app.post("/v1/images/generations", { config: { async: true, dialect: "openai" } }, handler);
}


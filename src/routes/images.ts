/** `POST /doubao/images/generations` and `POST /v1/images/generations` (CONTRACT.md §2.1, §2.2, §3.1). */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ARK_MODELS, isArkModel, SEEDEDIT_3_I2I } from "../api/models.js";
import {
  arkModelField, parseSeedreamSize, seededitRequest, seededitRequestV1, seedreamRequest, seedreamRequestV1,
  type SeededitRequest, type SeedreamRequest,
} from "../api/schemas.js";
import { parseOrThrow } from "../api/validate.js";
import { invalidParameter } from "../errors.js";
import { adaptiveSize } from "../images/adaptive-size.js";
import { outputTokens, runGeneration, type DeliveredImage, type Generation, type PipelineDeps } from "../pipeline/generate.js";
import { loadInputImage } from "../pipeline/input-image.js";
import type { AttemptLogger } from "../pipeline/resilience.js";
import type { ArkImagesCall, InputImage } from "../providers/types.js";
import type { Accounts, Admission } from "../accounts/accounts.js";
import { crashPoint } from "../crash-points.js";
import { accounted, hooksOf, requestSignal, requireObject, unixSeconds } from "./context.js";

export interface ArkResponse {
  model: string;
  created: number;
  data: Array<{ url: string } | { b64_json: string }>;
  usage: { generated_images: number; output_tokens: number; total_tokens: number };
  error?: { code: string; message: string };
}

/** The fields every Ark-family call needs, whichever route parsed them. */
export type ArkInput = Pick<SeedreamRequest | SeededitRequest, "model" | "prompt" | "size" | "seed" | "guidance_scale" | "watermark" | "response_format" | "n">;

export interface RouteDeps extends PipelineDeps {
  accounts: Accounts;
}

/** Makes the n upstream calls (seeds seed, seed+1, …) and answers in the Ark shape; partial failures are reported, total failure throws the first. */
export async function sendArkImages(
  reply: FastifyReply,
  deps: PipelineDeps,
  input: ArkInput,
  image: InputImage | undefined,
  signal: AbortSignal,
  log: AttemptLogger,
  admission: Admission,
) {
  const expected = image ? adaptiveSize(image.width, image.height) : (parseSeedreamSize(input.size) as { width: number; height: number });
  const calls = Array.from({ length: input.n }, (_, index): ArkImagesCall => ({
    operation: "ark.images",
    model: input.model,
    prompt: input.prompt,
    size: input.size,
    seed: input.seed === -1 ? -1 : (input.seed + index) % 2147483648,
    guidanceScale: input.guidance_scale,
    watermark: input.watermark,
    image,
  }));
  const settled = await Promise.allSettled(calls.map((call) => runGeneration(deps, input.model, call, input.response_format, signal, expected, log, hooksOf(admission))));
  const succeeded = settled.filter((entry): entry is PromiseFulfilledResult<Generation> => entry.status === "fulfilled").map((entry) => entry.value);
  const failures = settled.filter((entry): entry is PromiseRejectedResult => entry.status === "rejected").map((entry) => entry.reason as Error);
  if (succeeded.length === 0) throw failures[0];
  const images: DeliveredImage[] = succeeded.flatMap((generation) => generation.images);
  reply.header("x-gateway-provider", (succeeded[0] as Generation).provider.label);
  const tokens = outputTokens(images);
  const response: ArkResponse = {
    model: input.model,
    created: unixSeconds(),
    data: images.map((item) => (item.b64 !== undefined ? { b64_json: item.b64 } : { url: item.url as string })),
    usage: { generated_images: images.length, output_tokens: tokens, total_tokens: tokens },
  };
  if (failures.length > 0) {
    response.error = {
      code: "PartialFailure",
      message: `${failures.length} of ${calls.length} images failed; the first failure: ${(failures[0] as Error).message}`,
    };
  }
  admission.settle({
    status: 200, images: images.length, outputTokens: tokens, provider: (succeeded[0] as Generation).provider.id,
    upstreamRequestId: succeeded.map((generation) => generation.upstreamRequestId).find(Boolean) ?? null, errorCode: response.error?.code ?? null,
  });
  crashPoint("after-ledger");
  return reply.code(200).send(response);
}

export function registerImageRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const handler = (v1: boolean) => async (request: FastifyRequest, reply: FastifyReply) => {
    const body = requireObject(request);
    if (typeof body.model === "string") body.model = deps.router.canonical(body.model);
    const { model } = parseOrThrow(arkModelField, body);
    if (!isArkModel(model)) {
      throw invalidParameter("model", `Invalid parameter \`model\`: "${model.slice(0, 80)}" is not served on this endpoint; use one of ${ARK_MODELS.join(", ")}.`);
    }
    const signal = requestSignal(reply);
    const input: SeedreamRequest | SeededitRequest =
      model === SEEDEDIT_3_I2I
        ? { n: 1, ...parseOrThrow(v1 ? seededitRequestV1 : seededitRequest, body) }
        : { n: 1, ...parseOrThrow(v1 ? seedreamRequestV1 : seedreamRequest, body) };
    return accounted(request, reply, deps.accounts, { model: input.model, images: input.n }, async (admission) => {
      const image = input.model === SEEDEDIT_3_I2I ? await loadInputImage(input.image, "image", true, deps, signal) : undefined;
      return sendArkImages(reply, deps, input, image, signal, request.log, admission);
    });
  };
  app.post("/doubao/images/generations", handler(false));
  app.post("/v1/images/generations", handler(true));
}

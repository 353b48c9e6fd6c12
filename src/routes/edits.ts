/**
 * `POST /v1/images/edits`: the openai SDK's `images.edit` (multipart). SeedEdit 3.0 edits one image (its
 * default model; retired upstream, it is served by its replacement); a Seedream 4.x/5.x model takes
 * several files (`image` repeated, or `image[]`) as its reference images.
 */
import multipart from "@fastify/multipart";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { SEEDEDIT_3_I2I } from "../api/models.js";
import { editsForm, seedream4EditsForm } from "../api/schemas.js";
import { parseOrThrow } from "../api/validate.js";
import { invalidParameter, invalidRequest } from "../errors.js";
import { inspectImage, MAX_INPUT_BYTES, SEEDREAM_4_FORMATS } from "../images/inspect.js";
import { checkCapabilities } from "../models/capabilities.js";
import { lifecycleHeaders } from "../models/lifecycle.js";
import type { ArkSeedreamCall, InputImage } from "../providers/types.js";
import { accounted, requestSignal } from "../pipeline/context.js";
import { openAiLeniency } from "../api/nulls.js";
import { translateSize } from "../models/translate.js";
import { replacementFor, sendClassic, sendSeedream4Images, serveTranslated, type RouteDeps } from "../pipeline/ark-answers.js";

const tooLarge = () => invalidParameter("image", `Invalid parameter \`image\`: the image is larger than the limit of ${MAX_INPUT_BYTES} bytes (10 MB).`);
const MAX_FILES = 15;

export async function registerEditRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  await app.register(multipart, { limits: { fileSize: MAX_INPUT_BYTES, files: MAX_FILES + 1, fields: 20, fieldSize: 64 * 1024, parts: MAX_FILES + 21 } });

  app.post("/v1/images/edits", { config: { async: true, dialect: "openai" } }, async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.isMultipart()) {
      throw invalidRequest(415, "UnsupportedMediaType", "Send multipart/form-data with the image as the file field `image` (as the openai SDK's images.edit does).", "请以 multipart/form-data 发送，图片放在文件字段 image 中。");
    }
    const fields: Record<string, string> = {};
    const files: Buffer[] = [];
    try {
      for await (const part of request.parts()) {
        if (part.type === "file") {
          if (part.fieldname !== "image" && part.fieldname !== "image[]") {
            await part.toBuffer();
            throw invalidParameter(part.fieldname, `Invalid parameter \`${part.fieldname}\`: only image files (\`image\` or \`image[]\`) are accepted; no mask.`);
          }
          if (files.length === MAX_FILES) throw invalidParameter("image", `Invalid parameter \`image\`: at most ${MAX_FILES} images.`);
          const bytes = await part.toBuffer();
          if (part.file.truncated) throw tooLarge();
          files.push(bytes);
        } else {
          fields[part.fieldname] = String(part.value);
        }
      }
    } catch (error) {
      if ((error as { code?: string }).code === "FST_REQ_FILE_TOO_LARGE") throw tooLarge();
      if ((error as { code?: string }).code === "FST_FILES_LIMIT") throw invalidParameter("image", `Invalid parameter \`image\`: at most ${MAX_FILES} images.`);
      throw error;
    }
    if (files.length === 0) throw invalidParameter("image", "Missing required parameter `image`: attach the image file as the multipart field `image`.", undefined, "MissingParameter");
    openAiLeniency(fields);
    const asked = fields.model ?? SEEDEDIT_3_I2I;
    const entry = deps.router.models.find(asked);
    if (!entry || (entry.kind !== "seededit-3" && entry.kind !== "seedream-4")) {
      const editors = deps.router.models.ofKind("seededit-3", "seedream-4").map((candidate) => candidate.id);
      throw invalidParameter("model", `Invalid parameter \`model\`: must be a model that edits images: one of ${editors.join(", ")} (got ${JSON.stringify(asked.slice(0, 80))}).`);
    }
    const clientModel = entry.id;
    for (const [name, value] of Object.entries(lifecycleHeaders(entry, deps.router.models))) reply.header(name, value);
    const signal = requestSignal(reply);

    if (entry.kind === "seededit-3") {
      if (files.length > 1) throw invalidParameter("image", `Invalid parameter \`image\`: send exactly one image; ${entry.id} edits one image.`);
      const input = parseOrThrow(editsForm, { ...fields, model: SEEDEDIT_3_I2I });
      const image = await inspectImage(files[0] as Buffer, { field: "image", checkRatio: true });
      if (entry.lifecycle.state === "retired") {
        const replacement = replacementFor(reply, deps, entry);
        return serveTranslated(request, reply, deps, { entry, replacement, input, image, signal, clientModel });
      }
      return accounted(request, reply, deps.accounts, { model: entry.id, images: input.n, referenceImages: 1 }, (admission) =>
        sendClassic(request, reply, { deps, admission, input, image, signal, clientModel }),
      );
    }

    const served = entry.lifecycle.state === "retired" ? replacementFor(reply, deps, entry) : entry;
    const { capabilities } = served;
    const input = parseOrThrow(seedream4EditsForm, fields);
    let resizeTo: { width: number; height: number } | undefined;
    if (served !== entry && input.size !== undefined) ({ size: input.size, resizeTo } = translateSize(capabilities, input.size));
    checkCapabilities(served, { ...input, image: files.map(() => "file"), sequential_image_generation: "disabled", stream: false });
    const ratio = { min: capabilities.sizes.min_ratio, max: capabilities.sizes.max_ratio };
    const images: InputImage[] = await Promise.all(files.map((bytes, index) =>
      inspectImage(bytes, { field: files.length > 1 ? `image.${index}` : "image", checkRatio: false, ratio, formats: SEEDREAM_4_FORMATS }),
    ));
    const call: ArkSeedreamCall = {
      operation: "ark.seedream", model: served.id, prompt: input.prompt, images, size: input.size, watermark: input.watermark, optimizePrompt: undefined,
      sequential: "disabled", maxImages: undefined, outputFormat: input.output_format as "jpeg" | "png" | undefined, tools: undefined,
    };
    return accounted(request, reply, deps.accounts, { model: entry.id, servedModel: served.id, images: input.n, referenceImages: images.length }, (admission) =>
      sendSeedream4Images(
        { reply, deps, clientModel, servedModel: served.id, format: input.response_format, signal, log: request.log, admission, resizeTo },
        Array.from({ length: input.n }, () => call),
        capabilities.output_formats.length > 1,
      ),
    );
  });
}

/**
 * `POST /v1/images/edits`: the openai SDK's `images.edit` (multipart). SeedEdit 3.0 edits one image (its
 * default model; retired upstream, it is served by its replacement); a Seedream 4.x/5.x model takes
 * several files (`image` repeated, or `image[]`) as its reference images.
 */
import multipart from "@fastify/multipart";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { SEEDEDIT_3_I2I } from "../api/models.js";
import { invalidParameter, invalidRequest } from "../errors/errors.js";
import { MAX_INPUT_BYTES } from "../images/inspect.js";
import { lifecycleHeaders } from "../models/lifecycle.js";
import { requestSignal } from "../pipeline/context.js";
import { openAiLeniency } from "../api/nulls.js";
import type { RouteDeps } from "../pipeline/ark-answers.js";
import { serve } from "../pipeline/serve.js";
import { imagesKindOf } from "../models/kinds/kind.js";

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
    // A model edits images when its kind has an edit (models/kinds/).
    const edit = entry ? imagesKindOf(entry)?.edit : undefined;
    if (!entry || !edit) {
      const editors = deps.router.models.entries.filter((candidate) => imagesKindOf(candidate)?.edit).map((candidate) => candidate.id);
      throw invalidParameter("model", `Invalid parameter \`model\`: must be a model that edits images: one of ${editors.join(", ")} (got ${JSON.stringify(asked.slice(0, 80))}).`);
    }
    for (const [name, value] of Object.entries(lifecycleHeaders(entry, deps.router.models))) reply.header(name, value);
    const target = { request, reply, deps, signal: requestSignal(reply), dialect: "openai" as const };
    return serve(target, await edit(target, { fields, files }));
  });
}

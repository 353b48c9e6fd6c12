/** `POST /v1/images/edits`: the openai SDK's `images.edit` (multipart), mapped to SeedEdit 3.0. */
import multipart from "@fastify/multipart";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { editsForm } from "../api/schemas.js";
import { parseOrThrow } from "../api/validate.js";
import { invalidParameter, invalidRequest } from "../errors.js";
import { inspectImage, MAX_INPUT_BYTES } from "../images/inspect.js";
import { accounted, requestSignal } from "./context.js";
import { sendArkImages, type RouteDeps } from "./images.js";

const tooLarge = () => invalidParameter("image", `Invalid parameter \`image\`: the image is larger than the limit of ${MAX_INPUT_BYTES} bytes (10 MB).`);

export async function registerEditRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  await app.register(multipart, { limits: { fileSize: MAX_INPUT_BYTES, files: 2, fields: 20, fieldSize: 64 * 1024, parts: 24 } });

  app.post("/v1/images/edits", async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.isMultipart()) {
      throw invalidRequest(415, "UnsupportedMediaType", "Send multipart/form-data with the image as the file field `image` (as the openai SDK's images.edit does).", "请以 multipart/form-data 发送，图片放在文件字段 image 中。");
    }
    const fields: Record<string, string> = {};
    let bytes: Buffer | undefined;
    try {
      for await (const part of request.parts()) {
        if (part.type === "file") {
          if (part.fieldname !== "image" && part.fieldname !== "image[]") {
            await part.toBuffer();
            throw invalidParameter(part.fieldname, `Invalid parameter \`${part.fieldname}\`: only one file, \`image\`, is accepted (SeedEdit takes no mask).`);
          }
          if (bytes) throw invalidParameter("image", "Invalid parameter `image`: send exactly one image; SeedEdit edits one image.");
          bytes = await part.toBuffer();
          if (part.file.truncated) throw tooLarge();
        } else {
          fields[part.fieldname] = String(part.value);
        }
      }
    } catch (error) {
      if ((error as { code?: string }).code === "FST_REQ_FILE_TOO_LARGE") throw tooLarge();
      throw error;
    }
    if (!bytes) throw invalidParameter("image", "Missing required parameter `image`: attach the image file as the multipart field `image`.", undefined, "MissingParameter");
    if (fields.model !== undefined) fields.model = deps.router.canonical(fields.model);
    const input = parseOrThrow(editsForm, fields);
    const image = await inspectImage(bytes, { field: "image", checkRatio: true });
    return accounted(request, reply, deps.accounts, { model: input.model, images: input.n }, (admission) =>
      sendArkImages(reply, deps, input, image, requestSignal(reply), request.log, admission),
    );
  });
}

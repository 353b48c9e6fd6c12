/**
 * General 3.0 on Visual `CVProcess` (`high_aes_general_v30l_zt2i`, VISUAL-ASYNC.md §2), on `/doubao/drawing` as
 * 302.AI serves it (`model_version: "general_v3.0"`): its own fields and defaults (no super-resolution, so the
 * image is the size asked), one synchronous call, the drawing envelope.
 */
import { general3Request, type ResponseFormat } from "../../api/schemas.js";
import { parseOrThrow } from "../../api/validate.js";
import { requireObject } from "../../pipeline/context.js";
import type { VisualKind } from "./kind.js";

export const general3: VisualKind = {
  route: "/doubao/drawing",
  async plan(target) {
    const raw = requireObject(target.request);
    if (typeof raw.model_version === "string") raw.model_version = target.deps.router.canonical(raw.model_version);
    const input = parseOrThrow(general3Request, raw);
    const format: ResponseFormat = input.return_url ? "url" : "b64_json";
    return {
      answer: "drawing", work: { model: input.model_version, images: 1 },
      delivery: { clientModel: input.model_version, servedModel: input.model_version, format, expected: { width: input.width, height: input.height } },
      call: {
        operation: "visual.general3", prompt: input.prompt, usePreLlm: input.use_pre_llm, seed: input.seed, scale: input.scale, width: input.width,
        height: input.height, logo: input.logo_info,
      },
    };
  },
};

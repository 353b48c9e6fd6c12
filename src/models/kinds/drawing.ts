/** The general drawing models v2.x on Visual `CVProcess` (CONTRACT.md §2.3, `/doubao/drawing`): 302.AI's fields, one call. */
import { drawingRequest, type ResponseFormat } from "../../api/schemas.js";
import { parseOrThrow } from "../../api/validate.js";
import { requireObject } from "../../pipeline/context.js";
import type { GenerationPlan } from "../../pipeline/plan.js";
import type { VisualKind } from "./kind.js";

export const drawing: VisualKind = {
  route: "/doubao/drawing",
  async plan(target): Promise<GenerationPlan> {
    const raw = requireObject(target.request);
    if (typeof raw.model_version === "string") raw.model_version = target.deps.router.canonical(raw.model_version);
    const input = parseOrThrow(drawingRequest, raw);
    const format: ResponseFormat = input.return_url ? "url" : "b64_json";
    const scale = input.use_sr ? 2 : 1;
    return {
      answer: "drawing", work: { model: input.model_version, images: 1 },
      delivery: { clientModel: input.model_version, servedModel: input.model_version, format, expected: { width: input.width * scale, height: input.height * scale } },
      call: {
        operation: "visual.drawing", modelVersion: input.model_version, prompt: input.prompt, reqScheduleConf: input.req_schedule_conf,
        llmSeed: input.llm_seed, seed: input.seed, scale: input.scale, ddimSteps: input.ddim_steps, width: input.width, height: input.height,
        usePreLlm: input.use_pre_llm, useSr: input.use_sr, srSeed: input.sr_seed, srStrength: input.sr_strength, srScale: input.sr_scale,
        srSteps: input.sr_steps, isOnlySr: input.is_only_sr, logo: input.logo_info,
      },
    };
  },
};

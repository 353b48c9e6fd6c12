/** Portrait photos on Visual `CVProcess` (CONTRACT.md §2.4, `/doubao/drawing/portrait`): one photo, checked before admission. */
import { PORTRAIT_MODEL } from "../../api/models.js";
import { portraitQuery, portraitRequest } from "../../api/schemas.js";
import { parseOrThrow } from "../../api/validate.js";
import { requireObject } from "../../pipeline/context.js";
import { loadInputImage } from "../../pipeline/input-image.js";
import type { VisualKind } from "./kind.js";

export const portrait: VisualKind = {
  route: "/doubao/drawing/portrait",
  async plan(target) {
    const { response_format: format } = parseOrThrow(portraitQuery, target.request.query ?? {});
    const input = parseOrThrow(portraitRequest, requireObject(target.request));
    // The photo is checked before admission: a request refused for its input is not recorded and uses no rate or concurrency slot.
    const image = await loadInputImage(input.image_input, { field: "image_input", checkRatio: false }, target.deps, target.signal);
    const prompt = input.prompt?.trim() ? input.prompt : undefined;
    return {
      answer: "portrait", work: { model: PORTRAIT_MODEL, images: 1, referenceImages: 1 },
      delivery: { clientModel: PORTRAIT_MODEL, servedModel: PORTRAIT_MODEL, format, expected: { width: input.width, height: input.height } },
      call: {
        operation: "visual.portrait", image, prompt, width: input.width, height: input.height, gpen: input.gpen, skin: input.skin,
        skinUnifi: input.skin_unifi, genMode: input.gen_mode ?? (prompt ? "creative" : "reference"), seed: input.seed,
      },
    };
  },
};

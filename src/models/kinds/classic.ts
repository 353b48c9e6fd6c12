/**
 * What Seedream 3.0 and SeedEdit 3.0 share (CONTRACT.md §2.1, §2.2): n calls with seeds seed, seed+1, …, answered in
 * the 3.0 shape — by their own model, or, retired, by a Seedream 4.x/5.x replacement asked for the size the client's
 * contract gives (SeedEdit's adaptive size of its input), resized back when the replacement cannot make it.
 */
import { parseSeedreamSize, type SeededitRequest, type SeedreamRequest } from "../../api/schemas.js";
import { adaptiveSize } from "../../images/adaptive-size.js";
import type { GenerationPlan } from "../../pipeline/plan.js";
import type { ArkImagesCall, ArkSeedreamCall, InputImage } from "../../providers/types.js";
import { sizeFor } from "../translate.js";
import type { ModelEntry, Seedream4Entry } from "../types.js";

/** The fields every 3.0-shaped call needs, whichever route parsed them. */
export type ClassicInput = Pick<SeedreamRequest | SeededitRequest, "model" | "prompt" | "size" | "seed" | "guidance_scale" | "watermark" | "response_format" | "n">;

/** The size a 3.0 request asks for: SeedEdit's input's adaptive size, or Seedream 3.0's `size`. */
const askedSize = (input: ClassicInput, image: InputImage | undefined) =>
  image ? adaptiveSize(image.width, image.height) : (parseSeedreamSize(input.size) as { width: number; height: number });

/** Served by its own model. */
export function classicPlan(entry: ModelEntry, input: ClassicInput, image: InputImage | undefined): GenerationPlan {
  const calls = Array.from({ length: input.n }, (_, index): ArkImagesCall => ({
    operation: "ark.images", model: input.model, prompt: input.prompt, size: input.size, seed: input.seed === -1 ? -1 : (input.seed + index) % 2147483648,
    guidanceScale: input.guidance_scale, watermark: input.watermark, image,
  }));
  return {
    answer: "classic", work: { model: entry.id, images: input.n, referenceImages: image ? 1 : 0 },
    delivery: { clientModel: entry.id, servedModel: input.model, format: input.response_format, expected: askedSize(input, image) }, calls,
  };
}

/** Retired, served by `replacement` in the client's 3.0 contract. */
export function translatedClassicPlan(entry: ModelEntry, replacement: Seedream4Entry, input: ClassicInput, image: InputImage | undefined): GenerationPlan {
  const target = askedSize(input, image);
  const { size, resize } = sizeFor(replacement.capabilities, target.width, target.height);
  const call: ArkSeedreamCall = {
    operation: "ark.seedream", model: replacement.id, prompt: input.prompt, images: image ? [image] : [], size, watermark: input.watermark,
    optimizePrompt: undefined, sequential: "disabled", maxImages: undefined, outputFormat: undefined, tools: undefined,
  };
  return {
    answer: "classic", work: { model: entry.id, images: input.n, servedModel: replacement.id, referenceImages: image ? 1 : 0 },
    delivery: { clientModel: entry.id, servedModel: replacement.id, format: input.response_format, resizeTo: resize ? target : undefined, expected: target },
    calls: Array.from({ length: input.n }, () => call),
  };
}

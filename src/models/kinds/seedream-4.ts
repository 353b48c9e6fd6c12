/**
 * Seedream 4.x/5.x (LIVE-MODELS.md §2): validated from the serving model's capabilities, reference images checked
 * before admission, then n calls answered item by item, or one group streamed. A retired 4.x model is served by its
 * replacement with the size translated, and answered under the id the client asked for.
 */
import { seedream4EditsForm, seedream4Request, seedream4RequestV1, type Seedream4Request } from "../../api/schemas.js";
import { parseOrThrow } from "../../api/validate.js";
import { invalidParameter } from "../../errors/errors.js";
import { inspectImage, SEEDREAM_4_FORMATS } from "../../images/inspect.js";
import { replacementFor } from "../../pipeline/ark-answers.js";
import { failedImagesOf } from "../../pipeline/context.js";
import { loadInputImage } from "../../pipeline/input-image.js";
import type { GenerationPlan } from "../../pipeline/plan.js";
import type { ArkSeedreamCall, InputImage } from "../../providers/types.js";
import { checkCapabilities, mostImages } from "../capabilities.js";
import { translateSize } from "../translate.js";
import type { Capabilities, ModelEntry, Seedream4Entry } from "../types.js";
import type { ImagesKind, KindTarget } from "./kind.js";

/** The reference images of a 4.x/5.x request, each through the SSRF-safe fetch and the input checks. */
function loadReferences(value: string | string[] | undefined, capabilities: Capabilities, target: KindTarget): Promise<InputImage[]> {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  const ratio = { min: capabilities.sizes.min_ratio, max: capabilities.sizes.max_ratio };
  return Promise.all(list.map((item, index) =>
    loadInputImage(item, { field: Array.isArray(value) ? `image.${index}` : "image", checkRatio: false, ratio, formats: SEEDREAM_4_FORMATS }, target.deps, target.signal),
  ));
}

/**
 * `served` makes the calls; `asked` is the model the client named — itself, or a retired model `served` replaces
 * (the request's size is then translated, and the answer keeps the asked id).
 */
async function planned(target: KindTarget, served: Seedream4Entry, body: Record<string, unknown>, asked: ModelEntry): Promise<GenerationPlan> {
  const { request, reply } = target;
  const { capabilities } = served;
  let resizeTo: { width: number; height: number } | undefined;
  if (asked !== served && typeof body.size === "string") ({ size: body.size, resizeTo } = translateSize(capabilities, body.size));
  const input: Seedream4Request = { n: 1, ...parseOrThrow(target.dialect === "openai" ? seedream4RequestV1 : seedream4Request, body) };
  checkCapabilities(served, input);
  if (input.stream && input.n > 1) throw invalidParameter("n", "Invalid parameter `n`: n > 1 cannot be combined with stream; use sequential_image_generation \"auto\" for several images in one stream.");
  const failedImages = failedImagesOf(request);
  const ignored = (["seed", "guidance_scale"] as const).filter((field) => body[field] !== undefined);
  if (ignored.length > 0) reply.header("x-gateway-ignored", ignored.join(", "));
  const images = await loadReferences(input.image, capabilities, target);
  const call: ArkSeedreamCall = {
    operation: "ark.seedream", model: served.id, prompt: input.prompt, images, size: input.size, watermark: input.watermark,
    optimizePrompt: input.optimize_prompt_options, sequential: input.sequential_image_generation,
    maxImages: input.sequential_image_generation === "auto" ? mostImages(served, input) : undefined,
    outputFormat: input.output_format as "jpeg" | "png" | undefined, tools: input.tools,
  };
  const work = { model: asked.id, servedModel: served.id, images: mostImages(served, input), referenceImages: images.length };
  const delivery = { clientModel: asked.id, servedModel: served.id, format: input.response_format, resizeTo, failedImages };
  if (input.stream) return { answer: "stream", work, delivery, call, dialect: target.dialect };
  return { answer: "seedream-4", work, delivery, calls: Array.from({ length: input.n }, () => call), withFormat: capabilities.output_formats.length > 1 };
}

export const seedream4: ImagesKind<Seedream4Entry> = {
  plan: (target, entry, body) => planned(target, entry, body, entry),
  translate: (target, entry, replacement, body) => planned(target, replacement, { ...body, model: replacement.id }, entry),
  async edit(target, entry, { fields, files }) {
    const served = entry.lifecycle.state === "retired" ? replacementFor(target.reply, target.deps, entry) : entry;
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
    return {
      answer: "seedream-4", work: { model: entry.id, servedModel: served.id, images: input.n, referenceImages: images.length },
      delivery: { clientModel: entry.id, servedModel: served.id, format: input.response_format, resizeTo },
      calls: Array.from({ length: input.n }, () => call), withFormat: capabilities.output_formats.length > 1,
    };
  },
};

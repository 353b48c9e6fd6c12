/**
 * What a Seedream 4.x/5.x model can take, from its `capabilities` (LIVE-MODELS.md §2.1, `GET /v1/models`): the
 * gateway refuses with these messages before any upstream call, and a client (the web playground) can check a
 * request the same way before sending it. No dependencies: safe in a browser.
 */
import type { ModelCapabilities } from "./types.js";

/** The part of a 4.x/5.x request the capabilities constrain (as parsed by api/schemas.ts). */
export interface CapabilityRequest {
  size?: string | undefined;
  image?: string | string[] | undefined;
  sequential_image_generation: "disabled" | "auto";
  sequential_image_generation_options?: { max_images?: number | undefined } | undefined;
  stream: boolean;
  optimize_prompt_options?: { mode?: string | undefined; thinking?: string | undefined } | undefined;
  output_format?: string | undefined;
  tools?: Array<{ type: string }> | undefined;
  n?: number;
}

const ratioText = (value: number) => (value < 1 ? `1/${Math.round(1 / value)}` : String(value));
const list = (values: readonly string[]) => (values.length === 0 ? "none" : values.map((value) => JSON.stringify(value)).join(", "));

/** `"<W>x<H>"` as numbers; undefined for anything else. */
export function parsePixelSize(size: string): { width: number; height: number } | undefined {
  const match = /^(\d{1,5})x(\d{1,5})$/.exec(size);
  return match ? { width: Number(match[1]), height: Number(match[2]) } : undefined;
}

/** What `size` may be for a model, in words. */
export function sizeRuleText(capabilities: ModelCapabilities): string {
  const { sizes } = capabilities;
  const pixels = sizes.max_pixels === null ? `at least ${sizes.min_pixels}` : `in [${sizes.min_pixels}, ${sizes.max_pixels}]`;
  const keywords = sizes.keywords.length ? `one of ${list(sizes.keywords)}, or ` : "";
  return `${keywords}"<W>x<H>" with W×H ${pixels} pixels and W/H in [${ratioText(sizes.min_ratio)}, ${ratioText(sizes.max_ratio)}]`;
}

/** Whether a `"<W>x<H>"` fits the model's pixel and ratio ranges. */
export function pixelSizeFits(capabilities: ModelCapabilities, width: number, height: number): boolean {
  const { sizes } = capabilities;
  const pixels = width * height;
  return width > 0 && height > 0 && pixels >= sizes.min_pixels && (sizes.max_pixels === null || pixels <= sizes.max_pixels) &&
    width >= height * sizes.min_ratio && width <= height * sizes.max_ratio;
}

/** A field a model cannot take, with the message the gateway answers (and a browser shows before sending). */
export interface CapabilityProblem {
  field: string;
  message: string;
}

/** The first field of a request that `model` (with these capabilities) cannot take; undefined when it can take all. */
export function capabilityProblem(model: string, capabilities: ModelCapabilities, request: CapabilityRequest): CapabilityProblem | undefined {
  const refuse = (field: string, rule: string, got: string): CapabilityProblem => ({ field, message: `Invalid parameter \`${field}\`: ${model} accepts ${rule} (got ${got}).` });
  if (request.size !== undefined && !capabilities.sizes.keywords.includes(request.size)) {
    const pixels = parsePixelSize(request.size);
    const got = pixels ? `"${request.size}": ${pixels.width * pixels.height} pixels, W/H ${(pixels.width / pixels.height).toFixed(3)}` : JSON.stringify(request.size.slice(0, 40));
    if (!pixels || !pixelSizeFits(capabilities, pixels.width, pixels.height)) return refuse("size", sizeRuleText(capabilities), got);
  }
  const images = request.image === undefined ? 0 : Array.isArray(request.image) ? request.image.length : 1;
  if (images > capabilities.max_reference_images) {
    return refuse("image", `at most ${capabilities.max_reference_images} reference image${capabilities.max_reference_images === 1 ? "" : "s"}`, `${images}`);
  }
  if (request.sequential_image_generation === "auto") {
    if (!capabilities.group_generation) return refuse("sequential_image_generation", `only "disabled" (no group generation)`, `"auto"`);
    if ((request.n ?? 1) > 1) {
      return { field: "n", message: "Invalid parameter `n`: n > 1 cannot be combined with sequential_image_generation \"auto\"; use sequential_image_generation_options.max_images for a group." };
    }
    const maxImages = request.sequential_image_generation_options?.max_images;
    const room = capabilities.max_group_images - images;
    if (room < 1) return refuse("image", `at most ${capabilities.max_group_images - 1} reference images with group generation (references and generated images together ≤ ${capabilities.max_group_images})`, `${images}`);
    if (maxImages !== undefined && maxImages > room) {
      return refuse("sequential_image_generation_options.max_images", `at most ${room} images with ${images} reference image${images === 1 ? "" : "s"} (references and generated images together ≤ ${capabilities.max_group_images})`, `${maxImages}`);
    }
  }
  if (request.stream && !capabilities.stream) return refuse("stream", "only false (no streaming)", "true");
  const mode = request.optimize_prompt_options?.mode;
  if (mode !== undefined && !capabilities.optimize_prompt_modes.includes(mode)) return refuse("optimize_prompt_options.mode", list(capabilities.optimize_prompt_modes), JSON.stringify(mode));
  const thinking = request.optimize_prompt_options?.thinking;
  if (thinking !== undefined) {
    const accepted = capabilities.optimize_prompt_thinking;
    if (!accepted.includes(thinking)) {
      return refuse("optimize_prompt_options.thinking", accepted.length === 0 ? "no optimize_prompt_options.thinking" : list(accepted), JSON.stringify(thinking));
    }
    // Ark's rule for the field (CLIENTS.md §4): the prompt can skip its thinking step only when there is no image to read.
    if (thinking === "disabled" && images > 0) {
      return refuse("optimize_prompt_options.thinking", `"disabled" only without reference images`, `"disabled" with ${images} reference image${images === 1 ? "" : "s"}`);
    }
  }
  if (request.output_format !== undefined && !capabilities.output_formats.includes(request.output_format)) {
    return refuse("output_format", list(capabilities.output_formats), JSON.stringify(request.output_format));
  }
  for (const tool of request.tools ?? []) {
    if (!capabilities.tools.includes(tool.type)) return refuse("tools", `tool types ${list(capabilities.tools)}`, JSON.stringify(tool.type));
  }
  return undefined;
}

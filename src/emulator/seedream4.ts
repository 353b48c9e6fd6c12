/**
 * The emulator's Seedream 4.x/5.x (LIVE-MODELS.md §1): its own table of what each version takes — it
 * stands in for Volcengine, so it must be able to disagree with the gateway's table — the checks Ark
 * makes, group generation, per-image moderation failures and the streamed events.
 *
 * Markers in the prompt drive the group cases: `[[images:K]]` — in `auto` mode the model "decides" to
 * make K images (at most `max_images`; without a marker it makes `max_images`); `[[refuse-image:N]]` —
 * image N (1-based) fails moderation, the others go on; `[[fail-image:N]]` — image N fails internally and
 * the rest are not made; `[[image-pause:MS]]` — a stream waits MS between images; `[[drop-after:N]]` — a stream's connection is cut after N events (before the next one).
 */
import sharp from "sharp";
import { ARK_MARK, drawMark } from "../images/watermark.js";
import { renderFromImage, renderPicture } from "./render.js";

interface EmulatedVersion {
  keywords: Record<string, [number, number]>;
  minPixels: number;
  maxPixels: number;
  defaultSize: string;
  maxImages: number;
  group: boolean;
  stream: boolean;
  modes: string[];
  formats: string[];
  tools: string[];
  /** 5.0 Pro takes `optimize_prompt_options.thinking`. */
  thinking: boolean;
  /** 5.0 reports `output_format` per item and `usage.input_images`. */
  v5: boolean;
}

const K = (side: number): [number, number] => [side, side];
const V4_0: EmulatedVersion = {
  keywords: { "1K": K(1024), "2K": K(2048), "4K": K(4096) }, minPixels: 1280 * 720, maxPixels: 4096 * 4096, defaultSize: "2048x2048",
  maxImages: 14, group: true, stream: true, modes: ["standard", "fast"], formats: ["jpeg"], tools: [], thinking: false, v5: false,
};
const V5_0: EmulatedVersion = {
  keywords: { "2K": K(2048), "3K": K(3072), "4K": K(4096) }, minPixels: 3_686_400, maxPixels: 6000 * 6000, defaultSize: "2048x2048",
  maxImages: 14, group: true, stream: true, modes: ["standard"], formats: ["jpeg", "png"], tools: ["web_search"], thinking: false, v5: true,
};
const V5_0_PRO: EmulatedVersion = {
  keywords: { "1K": K(1024), "1.5K": K(1536), "2K": K(2048) }, minPixels: 921_600, maxPixels: 4_624_220, defaultSize: "2K",
  maxImages: 10, group: false, stream: false, modes: ["standard", "fast"], formats: ["jpeg", "png"], tools: [], thinking: true, v5: true,
};
const V4_5: EmulatedVersion = { ...V4_0, keywords: { "2K": K(2048), "4K": K(4096) }, minPixels: 3_686_400, modes: ["standard"] };
/** 5.0 Flash (2026-09-15): Pro's sizes, no thinking, no fast mode; whether it streams is not confirmed, so here it does not (as Pro). */
const V5_0_FLASH: EmulatedVersion = { ...V5_0_PRO, modes: ["standard"], thinking: false };

/** The versions the emulator serves, by every id Ark (and BytePlus ModelArk, CLIENTS.md §3) accepts. */
export const SEEDREAM_4_VERSIONS: Readonly<Record<string, EmulatedVersion>> = {
  "doubao-seedream-4-0-250828": V4_0,
  "seedream-4-0-250828": V4_0,
  "doubao-seedream-4-5-251128": V4_5,
  "seedream-4-5-251128": V4_5,
  "doubao-seedream-5-0-260128": V5_0,
  "doubao-seedream-5-0-lite-260128": V5_0,
  "seedream-5-0-260128": V5_0,
  "seedream-5-0-lite-260128": V5_0,
  "doubao-seedream-5-0-pro-260628": V5_0_PRO,
  "dola-seedream-5-0-pro-260628": V5_0_PRO,
  "doubao-seedream-5-0-flash-260915": V5_0_FLASH,
  "dola-seedream-5-0-flash-260915": V5_0_FLASH,
};

/** An Ark 400 the checks raise. */
export class Seedream4Refusal extends Error {
  constructor(readonly code: string, message: string, readonly param: string) {
    super(message);
  }
}

const invalid = (param: string, rule: string): never => {
  throw new Seedream4Refusal("InvalidParameter", `The parameter \`${param}\` specified in the request is not valid: ${rule}.`, param);
};
const unsupported = (param: string): never => {
  throw new Seedream4Refusal("InvalidParameter", `The parameter \`${param}\` specified in the request is not valid: ${param} is not supported by the current model.`, param);
};

export interface Seedream4Plan {
  model: string;
  version: EmulatedVersion;
  prompt: string;
  references: Buffer[];
  width: number;
  height: number;
  count: number;
  format: "jpeg" | "png";
  watermark: boolean;
  responseFormat: "url" | "b64_json";
  stream: boolean;
  webSearch: boolean;
  /** 0-based indices refused by moderation, and the index of an internal failure. */
  refused: Set<number>;
  failAt: number | undefined;
  dropAfter: number | undefined;
  /** Milliseconds a stream waits before each image after the first. */
  pauseMs: number;
}

const marker = (prompt: string, name: string): number | undefined => {
  const match = new RegExp(`\\[\\[${name}:(\\d+)\\]\\]`).exec(prompt);
  return match ? Number(match[1]) : undefined;
};

/**
 * Ark's checks on a 4.x/5.x body, in Ark's order; `loadImage` fetches and checks one reference image
 * (throwing a refusal for `image`). The plan says what to make.
 */
export async function planSeedream4(model: string, body: Record<string, unknown>, loadImage: (value: string) => Promise<Buffer>): Promise<Seedream4Plan> {
  const version = SEEDREAM_4_VERSIONS[model] as EmulatedVersion;
  const prompt = body.prompt;
  if (typeof prompt !== "string" || prompt.length === 0) {
    throw new Seedream4Refusal("MissingParameter", "The request failed because it is missing one or multiple required parameters: prompt.", "prompt");
  }
  for (const field of ["seed", "guidance_scale"]) if (body[field] !== undefined) unsupported(field);
  const responseFormat = body.response_format ?? "url";
  if (responseFormat !== "url" && responseFormat !== "b64_json") invalid("response_format", "must be url or b64_json");
  const watermark = body.watermark ?? true;
  if (typeof watermark !== "boolean") invalid("watermark", "must be a boolean");

  const size = body.size ?? version.defaultSize;
  if (typeof size !== "string") return invalid("size", "must be a string");
  let width: number;
  let height: number;
  const keyword = version.keywords[size];
  if (keyword) {
    [width, height] = keyword;
  } else {
    const match = /^(\d+)x(\d+)$/.exec(size);
    if (!match) return invalid("size", `must be one of ${Object.keys(version.keywords).join(", ")} or WxH`);
    width = Number(match[1]);
    height = Number(match[2]);
    const pixels = width * height;
    if (pixels < version.minPixels || pixels > version.maxPixels) invalid("size", `total pixels must be in [${version.minPixels}, ${version.maxPixels}]`);
    if (width * 16 < height || height * 16 < width) invalid("size", "aspect ratio must be in [1/16, 16]");
  }

  const images = body.image === undefined ? [] : Array.isArray(body.image) ? body.image : [body.image];
  if (images.length > version.maxImages) invalid("image", `at most ${version.maxImages} reference images are supported`);
  const references: Buffer[] = [];
  for (const value of images) {
    if (typeof value !== "string") return invalid("image", "each image must be a URL or a base64 data URL");
    references.push(await loadImage(value));
  }

  const sequential = body.sequential_image_generation ?? "disabled";
  if (sequential !== "disabled" && sequential !== "auto") invalid("sequential_image_generation", "must be disabled or auto");
  if (sequential === "auto" && !version.group) unsupported("sequential_image_generation");
  const options = body.sequential_image_generation_options as { max_images?: unknown } | undefined;
  const maxImages = options?.max_images ?? 15;
  if (typeof maxImages !== "number" || !Number.isInteger(maxImages) || maxImages < 1 || maxImages > 15) invalid("sequential_image_generation_options.max_images", "must be an integer in [1, 15]");
  if (sequential === "auto" && references.length + (maxImages as number) > 15 && references.length >= 15) invalid("image", "reference images and generated images together must be at most 15");
  const stream = body.stream ?? false;
  if (typeof stream !== "boolean") invalid("stream", "must be a boolean");
  if (stream && !version.stream) unsupported("stream");
  const optimize = body.optimize_prompt_options as { mode?: unknown; thinking?: unknown } | undefined;
  const mode = optimize?.mode;
  if (mode !== undefined && !version.modes.includes(String(mode))) invalid("optimize_prompt_options.mode", `must be one of ${version.modes.join(", ")}`);
  const thinking = optimize?.thinking;
  if (thinking !== undefined) {
    if (!version.thinking) unsupported("optimize_prompt_options.thinking");
    if (thinking !== "enabled" && thinking !== "disabled") invalid("optimize_prompt_options.thinking", "must be enabled or disabled");
    if (thinking === "disabled" && references.length > 0) invalid("optimize_prompt_options.thinking", "disabled is only supported without reference images");
  }
  const format = body.output_format ?? "jpeg";
  if (!version.formats.includes(String(format))) {
    if (version.formats.length === 1) unsupported("output_format");
    invalid("output_format", `must be one of ${version.formats.join(", ")}`);
  }
  const tools = body.tools;
  if (tools !== undefined) {
    if (!Array.isArray(tools)) return invalid("tools", "must be an array");
    for (const tool of tools as Array<{ type?: unknown }>) if (!version.tools.includes(String(tool?.type))) unsupported("tools");
  }

  const wanted = sequential === "auto" ? Math.min(maxImages as number, marker(prompt, "images") ?? (maxImages as number), 15 - references.length) : 1;
  const refuse = marker(prompt, "refuse-image");
  const fail = marker(prompt, "fail-image");
  return {
    model, version, prompt, references, width, height, count: Math.max(1, wanted), format: format as "jpeg" | "png", watermark: watermark as boolean,
    responseFormat: responseFormat as "url" | "b64_json", stream: stream as boolean, webSearch: Array.isArray(tools) && tools.length > 0,
    refused: new Set(refuse !== undefined ? [refuse - 1] : []),
    failAt: fail !== undefined ? fail - 1 : undefined,
    dropAfter: marker(prompt, "drop-after"),
    pauseMs: Math.min(marker(prompt, "image-pause") ?? 0, 60_000),
  };
}

/** One image of a plan: deterministic for (prompt, index, size), drawn from the first reference image when there is one. */
export async function renderSeedream4(plan: Seedream4Plan, index: number): Promise<Buffer> {
  const input = { prompt: plan.prompt, seed: index, width: plan.width, height: plan.height };
  let picture = plan.references[0] ? await renderFromImage(plan.references[0], input) : await renderPicture(input);
  if (plan.watermark) picture = await drawMark(picture, ARK_MARK);
  return plan.format === "png" ? sharp(picture).png().toBuffer() : picture;
}

/** Ark's `usage` for a plan that made `made` images. */
export function seedream4Usage(plan: Seedream4Plan, made: number): Record<string, unknown> {
  const tokens = Math.round((made * plan.width * plan.height) / 256);
  return {
    generated_images: made, output_tokens: tokens, total_tokens: tokens,
    ...(plan.version.v5 ? { input_images: plan.references.length } : {}),
    ...(plan.version.v5 && plan.webSearch ? { tool_usage: { web_search: 1 } } : {}),
  };
}

/** What happens to image `index` of a plan: made, refused by moderation (goes on), or an internal failure (stops). */
export function outcomeOf(plan: Seedream4Plan, index: number): "made" | "refused" | "failed" {
  if (plan.failAt === index) return "failed";
  return plan.refused.has(index) ? "refused" : "made";
}

export const MODERATION_ERROR = { code: "OutputImageSensitiveContentDetected", message: "The request failed because the output image may contain sensitive information." };
export const INTERNAL_ERROR = { code: "InternalServiceError", message: "The service encountered an unexpected internal error." };

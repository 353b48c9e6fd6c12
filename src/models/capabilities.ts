/**
 * Validation derived from the model table (LIVE-MODELS.md §2.1): each field a Seedream 4.x/5.x model
 * cannot take is a 400 naming the field, the model and what it accepts — before any upstream call.
 */
import { capabilityProblem, type CapabilityRequest } from "@doubao-gateway/sdk";
import { invalidParameter } from "../errors/errors.js";
import type { Seedream4Entry } from "./types.js";

export { parsePixelSize, pixelSizeFits, sizeRuleText, type CapabilityRequest } from "@doubao-gateway/sdk";

/** Throws the 400 for the first field the model cannot take. */
export function checkCapabilities(entry: Seedream4Entry, request: CapabilityRequest): void {
  const problem = capabilityProblem(entry.id, entry.capabilities, request);
  if (problem) throw invalidParameter(problem.field, problem.message);
}

/** The most images a request may make: the reservation a group request holds until it is settled. */
export function mostImages(entry: Seedream4Entry, request: CapabilityRequest): number {
  if (request.sequential_image_generation !== "auto") return request.n ?? 1;
  const { capabilities } = entry;
  const images = request.image === undefined ? 0 : Array.isArray(request.image) ? request.image.length : 1;
  return request.sequential_image_generation_options?.max_images ?? capabilities.max_group_images - images;
}

/**
 * A `GenerationPlan`: everything a model kind (models/kinds/) decides about one request — what is reserved, the
 * calls (the fan-out decided there, once), how the images are delivered and the answer's form. `serve`
 * (pipeline/serve.ts) runs any of them.
 */
import type { ResponseFormat } from "../api/schemas.js";
import type { Dialect } from "../api/route-config.js";
import type { FailedImages } from "../stores/keys.js";
import type { ArkSeedreamCall, ProviderCall, VisualDrawingCall, VisualGeneral3Call, VisualPortraitCall } from "../providers/types.js";

/** What a request reserves before any call: the model asked, the most images it may make, the model that serves (if another), its reference images. */
export interface PlannedWork {
  model: string;
  images: number;
  servedModel?: string;
  referenceImages?: number;
}

/** How a plan's images reach the client. */
export interface PlannedDelivery {
  /** The model id the answer names (the client's, an alias answered by its id). */
  clientModel: string;
  /** The model-table id whose providers serve the calls. */
  servedModel: string;
  format: ResponseFormat;
  /** Every image resized to this (a retired model's size its replacement cannot make). */
  resizeTo?: { width: number; height: number } | undefined;
  /** The size the upstream returns, for usage when only its URL is passed through. */
  expected?: { width: number; height: number } | undefined;
  /** 4.x/5.x answers: a failed image inline (Ark's) or listed beside `data` (`omit`). */
  failedImages?: FailedImages;
}

/** Everything a kind decides about one request; `answer` is the form the client gets. */
export type GenerationPlan =
  /** Seedream 3.0's answer shape: n calls, partial failures reported in `error`. */
  | { answer: "classic"; work: PlannedWork; delivery: PlannedDelivery; calls: ProviderCall[] }
  /** Seedream 4.x/5.x's: every item at its place, an image or its error; `withFormat` adds each image's `output_format`. */
  | { answer: "seedream-4"; work: PlannedWork; delivery: PlannedDelivery; calls: ArkSeedreamCall[]; withFormat: boolean }
  /** Server-sent events, each image as it is made. */
  | { answer: "stream"; work: PlannedWork; delivery: PlannedDelivery & { failedImages: FailedImages }; call: ArkSeedreamCall; dialect: Dialect }
  /** Visual's envelope with 302.AI's drawing fields (`/doubao/drawing`). */
  | { answer: "drawing"; work: PlannedWork; delivery: PlannedDelivery; call: VisualDrawingCall | VisualGeneral3Call }
  /** Visual's envelope with status 10000 (`/doubao/drawing/portrait`). */
  | { answer: "portrait"; work: PlannedWork; delivery: PlannedDelivery; call: VisualPortraitCall };


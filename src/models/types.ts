/**
 * The shape of one entry of the model table (LIVE-MODELS.md §2.1). Field names are the wire's
 * (snake_case): the same object is read from `GATEWAY_CONFIG` and shown by `GET /v1/models`.
 */

/** What a model is, which decides its request schema and its upstream protocol. */
export type ModelKind = "seedream-3" | "seededit-3" | "seedream-4" | "drawing" | "portrait";

/** Which upstream protocol serves a model: Ark Images, or Visual `CVProcess`. */
export type ModelFamily = "ark" | "visual";

export const KIND_FAMILY: Readonly<Record<ModelKind, ModelFamily>> = {
  "seedream-3": "ark",
  "seededit-3": "ark",
  "seedream-4": "ark",
  drawing: "visual",
  portrait: "visual",
};

/** `size` of a Seedream 4.x/5.x model (LIVE-MODELS.md §1.2). */
export interface SizeRule {
  /** Keywords such as `2K`; the model then picks width and height itself. */
  keywords: string[];
  /** Least W×H of a `"<W>x<H>"` size. */
  min_pixels: number;
  /** Most W×H; `null`: no limit known (the upstream decides). */
  max_pixels: number | null;
  /** Least and most W/H. */
  min_ratio: number;
  max_ratio: number;
  /** The size the upstream uses when none is sent. */
  default: string;
}

/** What a Seedream 4.x/5.x model takes (the rows of LIVE-MODELS.md §1.2). */
export interface Capabilities {
  sizes: SizeRule;
  /** Most reference images in `image`. */
  max_reference_images: number;
  /** `sequential_image_generation: "auto"`. */
  group_generation: boolean;
  /** Most images one group request may make (reference images included). */
  max_group_images: number;
  stream: boolean;
  /** `optimize_prompt_options.mode` values. */
  optimize_prompt_modes: string[];
  output_formats: string[];
  /** `tools[].type` values. */
  tools: string[];
}

/** Where a model is in its life upstream (LIVE-MODELS.md §2.5). */
export interface Lifecycle {
  state: "live" | "deprecated" | "retired";
  /** ISO date the deprecation was announced (the `Deprecation` header). */
  deprecated_at?: string;
  /** ISO date calls stop (deprecated) or stopped (retired): the `Sunset` header. */
  sunset?: string;
  /** The model that serves a retired model's requests, translated; and the successor named to clients. */
  replacement?: string;
}

export interface ModelEntry {
  id: string;
  kind: ModelKind;
  /** Other names clients may send (the request is served as this entry; the answer keeps the client's string). */
  aliases: string[];
  /** Unix seconds (the `created` of `/v1/models`). */
  created: number;
  /** Price per generated image, in micro-units of the price table's currency. */
  price_micros: number;
  lifecycle: Lifecycle;
  /** Seedream 4.x/5.x only. */
  capabilities?: Capabilities;
  /** Facts about this entry that come from one third-party source only (shown in `/v1/models`). */
  unconfirmed?: string[];
}

/**
 * The shape of one entry of the model table (LIVE-MODELS.md §2.1). Field names are the wire's
 * (snake_case): the same object is read from `GATEWAY_CONFIG` and shown by `GET /v1/models`.
 */
import type { ModelCapabilities, ModelLifecycle } from "@doubao-gateway/sdk";

/** What a model is, which decides its request schema and its upstream protocol. */
export type ModelKind = "seedream-3" | "seededit-3" | "seedream-4" | "drawing" | "general-3" | "portrait";

/** Which upstream protocol serves a model: Ark Images, or Visual `CVProcess`. */
export type ModelFamily = "ark" | "visual";

export const KIND_FAMILY: Readonly<Record<ModelKind, ModelFamily>> = {
  "seedream-3": "ark",
  "seededit-3": "ark",
  "seedream-4": "ark",
  drawing: "visual",
  "general-3": "visual",
  portrait: "visual",
};

/**
 * What a Seedream 4.x/5.x model takes (the rows of LIVE-MODELS.md §1.2), and its `size` rule: the SDK's types,
 * which `/v1/models` shows as they are.
 */
export type Capabilities = ModelCapabilities;
export type SizeRule = ModelCapabilities["sizes"];

/**
 * Where a model is in its life upstream (LIVE-MODELS.md §2.5): `deprecated_at` is the `Deprecation` header's date,
 * `sunset` the day calls stop or stopped, `replacement` the model that serves a retired model's requests.
 */
export type Lifecycle = Omit<ModelLifecycle, "served_by">;

interface EntryFields {
  id: string;
  /** Other names clients may send (the request is served as this entry; the answer keeps the client's string). */
  aliases: string[];
  /** Unix seconds (the `created` of `/v1/models`). */
  created: number;
  /** Price per generated image, in micro-units of the price table's currency. */
  price_micros: number;
  lifecycle: Lifecycle;
  /** Facts about this entry that come from one third-party source only (shown in `/v1/models`). */
  unconfirmed?: string[];
}

/** A Seedream 4.x/5.x model: what it takes is data, its capabilities. */
export interface Seedream4Entry extends EntryFields {
  kind: "seedream-4";
  capabilities: Capabilities;
}

/** A model whose rules are the contract's own (Seedream 3.0, SeedEdit 3.0, the drawing models, portrait): one member per kind, so a test of `kind` narrows. */
export type ContractEntry = { [Kind in Exclude<ModelKind, "seedream-4">]: EntryFields & { kind: Kind } }[Exclude<ModelKind, "seedream-4">];

/** An entry of the model table: a union on `kind`, so that only a Seedream 4.x/5.x entry has capabilities. */
export type ModelEntry = Seedream4Entry | ContractEntry;

/** Public model ids served by the gateway, and what each one is. The single source of truth for routes, the router and `/v1/models`. */

export const SEEDREAM_3_T2I = "doubao-seedream-3-0-t2i-250415";
export const SEEDEDIT_3_I2I = "doubao-seededit-3-0-i2i-250628";

/** Models on `/doubao/images/generations` and `/v1/images/*` (Ark protocol). */
export const ARK_MODELS = [SEEDREAM_3_T2I, SEEDEDIT_3_I2I] as const;
export type ArkModelId = (typeof ARK_MODELS)[number];

/** `model_version` values on `/doubao/drawing` (Visual `CVProcess`). */
export const DRAWING_MODEL_VERSIONS = ["general_v2.1_L", "general_v2.0_L", "general_v2.0"] as const;
export type DrawingModelVersion = (typeof DRAWING_MODEL_VERSIONS)[number];

/** Visual `req_key` for each drawing model version (UPSTREAMS.md §2.2). */
export const DRAWING_REQ_KEYS: Readonly<Record<DrawingModelVersion, string>> = {
  "general_v2.1_L": "high_aes_general_v21_L",
  "general_v2.0_L": "high_aes_general_v20_L",
  "general_v2.0": "high_aes_general_v20",
};

/** The portrait model; its public id is the Visual `req_key`. */
export const PORTRAIT_MODEL = "i2i_portrait_photo";

export type PublicModelId = ArkModelId | DrawingModelVersion | typeof PORTRAIT_MODEL;

/** Which upstream protocol serves a model. */
export type ModelFamily = "ark" | "visual";

export const MODEL_CATALOG: ReadonlyArray<{ id: PublicModelId; family: ModelFamily; created: number }> = [
  { id: SEEDREAM_3_T2I, family: "ark", created: 1744675200 },
  { id: SEEDEDIT_3_I2I, family: "ark", created: 1751068800 },
  { id: "general_v2.1_L", family: "visual", created: 1735689600 },
  { id: "general_v2.0_L", family: "visual", created: 1727740800 },
  { id: "general_v2.0", family: "visual", created: 1722470400 },
  { id: PORTRAIT_MODEL, family: "visual", created: 1751500800 },
];

export function isArkModel(model: string): model is ArkModelId {
  return (ARK_MODELS as readonly string[]).includes(model);
}

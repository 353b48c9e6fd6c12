/** Model ids the contract's routes name in code (the rest of the table is data: models/builtin.ts). */

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

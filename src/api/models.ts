/** Model ids the contract's routes name in code (the rest of the table is data: models/builtin.ts). */

import { type DrawingModelVersion, SEEDEDIT_3_I2I, SEEDREAM_3_T2I } from "@doubao-gateway/sdk/schemas";

export { DRAWING_MODEL_VERSIONS, PORTRAIT_MODEL, SEEDEDIT_3_I2I, SEEDREAM_3_T2I, type DrawingModelVersion } from "@doubao-gateway/sdk/schemas";

/** Models on `/doubao/images/generations` and `/v1/images/*` (Ark protocol). */
export const ARK_MODELS = [SEEDREAM_3_T2I, SEEDEDIT_3_I2I] as const;
export type ArkModelId = (typeof ARK_MODELS)[number];

/** General 3.0: 302.AI's `model_version` for it on `/doubao/drawing`, and its Visual `req_key` (VISUAL-ASYNC.md §2). */
export const GENERAL_3_MODEL = "general_v3.0";
export const GENERAL_3_REQ_KEY = "high_aes_general_v30l_zt2i";

/** Visual `req_key` for each drawing model version (UPSTREAMS.md §2.2). */
export const DRAWING_REQ_KEYS: Readonly<Record<DrawingModelVersion, string>> = {
  "general_v2.1_L": "high_aes_general_v21_L",
  "general_v2.0_L": "high_aes_general_v20_L",
  "general_v2.0": "high_aes_general_v20",
};


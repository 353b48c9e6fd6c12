/**
 * What an image costs, per model, for the ledger and the spend limits. Defaults are Volcengine's public
 * per-image list prices in CNY as the authors know them (Seedream 3.0 ¥0.259, SeedEdit 3.0 ¥0.30; the
 * Visual models' ¥0.20 is not confirmed); an operator sets theirs in GATEWAY_CONFIG `prices`. Money is
 * kept in integer micro-units so that sums are exact.
 */
import type { PublicModelId } from "../api/models.js";

export interface PriceTable {
  currency: string;
  /** Micro-units of `currency` per image, by public model id. */
  perImageMicros: Readonly<Record<PublicModelId, number>>;
}

export const toMicros = (amount: number) => Math.round(amount * 1_000_000);
export const fromMicros = (micros: number) => Math.round(micros) / 1_000_000;

export const DEFAULT_PRICES: PriceTable = Object.freeze({
  currency: "CNY",
  perImageMicros: Object.freeze({
    "doubao-seedream-3-0-t2i-250415": toMicros(0.259),
    "doubao-seededit-3-0-i2i-250628": toMicros(0.3),
    "general_v2.1_L": toMicros(0.2),
    "general_v2.0_L": toMicros(0.2),
    "general_v2.0": toMicros(0.2),
    i2i_portrait_photo: toMicros(0.2),
  }),
});

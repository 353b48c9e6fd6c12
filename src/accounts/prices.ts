/**
 * What an image costs, per model, for the ledger and the spend limits: the `price_micros` of the model
 * table (models/builtin.ts; an operator sets theirs in GATEWAY_CONFIG `models.<id>.price` or `prices`). Money is
 * kept in integer micro-units so that sums are exact.
 */
import type { ModelTable } from "../models/table.js";

export interface PriceTable {
  currency: string;
  /** Micro-units of `currency` per image, by model id (from the model table). */
  perImageMicros: Readonly<Record<string, number>>;
}

export const toMicros = (amount: number) => Math.round(amount * 1_000_000);
export const fromMicros = (micros: number) => Math.round(micros) / 1_000_000;

/** The prices of a model table's entries. */
export function priceTableOf(models: ModelTable, currency = "CNY"): PriceTable {
  return Object.freeze({ currency, perImageMicros: Object.freeze(Object.fromEntries(models.entries.map((entry) => [entry.id, entry.price_micros]))) });
}

/** Seedream 3.0 text-to-image (CONTRACT.md §2.1): the contract's fields, n calls; retired, made by its replacement. */
import { SEEDREAM_3_T2I } from "../../api/models.js";
import { seedreamRequest, seedreamRequestV1, type SeedreamRequest } from "../../api/schemas.js";
import { parseOrThrow } from "../../api/validate.js";
import type { ContractEntry } from "../types.js";
import { classicPlan, translatedClassicPlan } from "./classic.js";
import type { ImagesKind, KindTarget } from "./kind.js";

type Seedream3Entry = Extract<ContractEntry, { kind: "seedream-3" }>;

const parse = (target: KindTarget, body: Record<string, unknown>): SeedreamRequest => ({
  n: 1, ...parseOrThrow(target.dialect === "openai" ? seedreamRequestV1 : seedreamRequest, { ...body, model: SEEDREAM_3_T2I }),
});

export const seedream3: ImagesKind<Seedream3Entry> = {
  plan: async (target, entry, body) => classicPlan(entry, parse(target, body), undefined),
  translate: async (target, entry, replacement, body) => translatedClassicPlan(entry, replacement, parse(target, body), undefined),
};

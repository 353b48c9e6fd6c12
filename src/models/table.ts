/**
 * The model table: the built-in entries (builtin.ts) with the operator's `GATEWAY_CONFIG` `models:` laid
 * over them, checked once at start. Every later question — is this name a model, what may it take, what
 * does it cost, is it retired and what replaces it — is answered here.
 */
import { z } from "zod";
import { BUILT_IN_MODELS, DEFAULT_IMAGE_MODEL } from "./builtin.js";
import { KIND_FAMILY, type Capabilities, type Lifecycle, type ModelEntry, type ModelKind } from "./types.js";

export class ModelTableError extends Error {}

const KINDS = Object.keys(KIND_FAMILY) as [ModelKind, ...ModelKind[]];
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: "must be a date YYYY-MM-DD" });
export const aliasName = z.string().min(1).max(100).regex(/^[A-Za-z0-9._:-]+$/, { error: "aliases use letters, digits and . _ : -" });

const sizesOverride = z.strictObject({
  keywords: z.array(z.string().regex(/^\d+(\.\d+)?K$/, { error: "size keywords look like 1K, 1.5K, 2K" })).optional(),
  min_pixels: z.number().int().min(1).optional(),
  max_pixels: z.number().int().min(1).nullable().optional(),
  min_ratio: z.number().positive().optional(),
  max_ratio: z.number().positive().optional(),
  default: z.string().min(1).optional(),
});

/** What `GATEWAY_CONFIG` may say about a model's capabilities: any field, the rest kept. */
const capabilitiesOverride = z.strictObject({
  sizes: sizesOverride.optional(),
  max_reference_images: z.number().int().min(0).max(15).optional(),
  group_generation: z.boolean().optional(),
  max_group_images: z.number().int().min(1).max(15).optional(),
  stream: z.boolean().optional(),
  optimize_prompt_modes: z.array(z.string().min(1)).optional(),
  optimize_prompt_thinking: z.array(z.enum(["enabled", "disabled"])).optional(),
  output_formats: z.array(z.enum(["jpeg", "png"])).optional(),
  tools: z.array(z.string().min(1)).optional(),
});

const lifecycleOverride = z.union([
  z.enum(["live", "deprecated", "retired"]),
  z.strictObject({
    state: z.enum(["live", "deprecated", "retired"]),
    deprecated_at: isoDate.optional(),
    sunset: isoDate.optional(),
    /** `null` removes a built-in replacement. */
    replacement: z.string().min(1).nullable().optional(),
  }),
], { error: 'must be live, deprecated or retired, or {state, deprecated_at, sunset, replacement}' });

/** One model's lines in `GATEWAY_CONFIG` `models:` (providers are the router's, read by config/file.ts). */
export const modelOverride = z.strictObject({
  kind: z.enum(KINDS, { error: `must be one of ${KINDS.join(", ")}` }).optional(),
  aliases: z.array(aliasName).optional(),
  created: z.number().int().min(0).optional(),
  /** Per image, in the price table's currency. */
  price: z.number().min(0).max(1000).optional(),
  lifecycle: lifecycleOverride.optional(),
  capabilities: capabilitiesOverride.optional(),
  providers: z.unknown().optional(),
});
export type ModelOverride = z.infer<typeof modelOverride>;

/** Which kinds a replacement may have: a retired Ark image model is served by a Seedream 4.x/5.x model; others by their own kind. */
function replacementKinds(kind: ModelKind): ModelKind[] {
  return kind === "seedream-3" || kind === "seededit-3" || kind === "seedream-4" ? ["seedream-4"] : [kind];
}

export class ModelTable {
  private readonly byId = new Map<string, ModelEntry>();
  private readonly byAlias = new Map<string, ModelEntry>();

  /** The model id a `/v1/images/generations` request without `model` is served by (`default_model`). */
  readonly defaultModel: string;

  constructor(readonly entries: readonly ModelEntry[], extraAliases: Readonly<Record<string, string>> = {}, defaultModel = DEFAULT_IMAGE_MODEL) {
    for (const entry of entries) this.byId.set(entry.id, entry);
    const addAlias = (alias: string, id: string, where: string) => {
      const target = this.byId.get(id);
      if (!target) throw new ModelTableError(`${where}: "${id}" is not a model of the table; one of ${[...this.byId.keys()].join(", ")}`);
      if (this.byId.has(alias)) throw new ModelTableError(`${where}: alias "${alias}" is already a model id`);
      const existing = this.byAlias.get(alias);
      if (existing && existing.id !== id) throw new ModelTableError(`${where}: alias "${alias}" points to two models (${existing.id}, ${id})`);
      this.byAlias.set(alias, target);
    };
    for (const entry of entries) for (const alias of entry.aliases) addAlias(alias, entry.id, `models.${entry.id}.aliases`);
    for (const [alias, id] of Object.entries(extraAliases)) addAlias(alias, id, `aliases.${alias}`);
    for (const entry of entries) {
      const replacement = entry.lifecycle.replacement;
      if (replacement === undefined) continue;
      const target = this.byId.get(replacement);
      const where = `models.${entry.id}.lifecycle.replacement`;
      if (!target) throw new ModelTableError(`${where}: "${replacement}" is not a model of the table`);
      if (target.lifecycle.state === "retired") throw new ModelTableError(`${where}: "${replacement}" is retired itself`);
      if (!replacementKinds(entry.kind).includes(target.kind)) {
        throw new ModelTableError(`${where}: a ${entry.kind} model cannot be served by ${replacement} (${target.kind}); use a ${replacementKinds(entry.kind).join(" or ")} model`);
      }
    }
    const fallback = this.find(defaultModel);
    if (!fallback || KIND_FAMILY[fallback.kind] !== "ark") {
      const ids = entries.filter((entry) => KIND_FAMILY[entry.kind] === "ark").map((entry) => entry.id);
      throw new ModelTableError(`default_model: "${defaultModel}" is not an image model of /v1/images/generations; one of ${ids.join(", ")}`);
    }
    this.defaultModel = fallback.id;
  }

  /** The entry of a model id or alias. */
  find(name: string): ModelEntry | undefined {
    return this.byId.get(name) ?? this.byAlias.get(name);
  }

  /** The entry of an id known to be in the table. */
  get(id: string): ModelEntry {
    const entry = this.byId.get(id);
    if (!entry) throw new Error(`model ${id} is not in the table`);
    return entry;
  }

  /** alias → model id, for every alias. */
  aliases(): Record<string, string> {
    return Object.fromEntries([...this.byAlias].map(([alias, entry]) => [alias, entry.id]));
  }

  /** The model to name to a client of a retired or deprecated one: its replacement, else the first live model that can take its requests. */
  successor(entry: ModelEntry): string | undefined {
    if (entry.lifecycle.replacement) return entry.lifecycle.replacement;
    const kinds = replacementKinds(entry.kind);
    return this.entries.find((candidate) => candidate.id !== entry.id && candidate.lifecycle.state === "live" && kinds.includes(candidate.kind))?.id;
  }
}

/** Applies one override to an entry (or makes a new entry); `where` names the config path in errors. */
function applyOverride(base: ModelEntry | undefined, id: string, override: ModelOverride, where: string): ModelEntry {
  const kind = override.kind ?? base?.kind;
  if (!kind) throw new ModelTableError(`${where}: "${id}" is not a built-in model; give its kind (one of ${KINDS.join(", ")}) to add it`);
  if (base && override.kind && override.kind !== base.kind) throw new ModelTableError(`${where}.kind: ${id} is a ${base.kind} model`);
  let capabilities: Capabilities | undefined = base?.kind === "seedream-4" ? base.capabilities : undefined;
  if (kind === "seedream-4") {
    const over = override.capabilities;
    if (!capabilities && !(over?.sizes?.keywords && over.sizes.min_pixels && over.sizes.default && over.max_reference_images !== undefined)) {
      throw new ModelTableError(`${where}.capabilities: a new seedream-4 model needs at least sizes {keywords, min_pixels, default} and max_reference_images`);
    }
    const start: Capabilities = capabilities ?? {
      sizes: { keywords: [], min_pixels: 1, max_pixels: null, min_ratio: 1 / 16, max_ratio: 16, default: "2048x2048" },
      max_reference_images: 0, group_generation: false, max_group_images: 1, stream: false, optimize_prompt_modes: [], optimize_prompt_thinking: [], output_formats: ["jpeg"], tools: [],
    };
    const { sizes, ...rest } = over ?? {};
    const merged = { ...start, ...definedOnly(rest), sizes: { ...start.sizes, ...definedOnly(sizes ?? {}) } } as Capabilities;
    if (merged.sizes.max_pixels !== null && merged.sizes.max_pixels < merged.sizes.min_pixels) {
      throw new ModelTableError(`${where}.capabilities.sizes: max_pixels is below min_pixels`);
    }
    if (merged.sizes.max_ratio < merged.sizes.min_ratio) throw new ModelTableError(`${where}.capabilities.sizes: max_ratio is below min_ratio`);
    capabilities = merged;
  } else if (override.capabilities) {
    throw new ModelTableError(`${where}.capabilities: only seedream-4 models have capabilities in the table (${id} is ${kind}; its rules are the contract's)`);
  }
  let lifecycle: Lifecycle = base?.lifecycle ?? { state: "live" };
  if (override.lifecycle !== undefined) {
    const given = typeof override.lifecycle === "string" ? { state: override.lifecycle } : override.lifecycle;
    const next: Lifecycle = { state: given.state };
    const deprecatedAt = "deprecated_at" in given ? given.deprecated_at : undefined;
    const sunset = "sunset" in given ? given.sunset : lifecycle.sunset;
    const replacement = "replacement" in given ? given.replacement : lifecycle.replacement;
    if (deprecatedAt) next.deprecated_at = deprecatedAt;
    if (sunset && given.state !== "live") next.sunset = sunset;
    if (replacement && given.state !== "live") next.replacement = replacement;
    if (next.state === "deprecated" && (!next.sunset || !next.deprecated_at)) {
      throw new ModelTableError(`${where}.lifecycle: a deprecated model needs deprecated_at and sunset (dates YYYY-MM-DD)`);
    }
    lifecycle = next;
  }
  const fields = {
    id,
    aliases: [...new Set([...(base?.aliases ?? []), ...(override.aliases ?? [])])],
    created: override.created ?? base?.created ?? 0,
    price_micros: override.price !== undefined ? Math.round(override.price * 1_000_000) : (base?.price_micros ?? 0),
    lifecycle,
  };
  let entry: ModelEntry;
  if (kind === "seedream-4") {
    // Merged above, or the start was refused there.
    if (!capabilities) throw new ModelTableError(`${where}.capabilities: missing`);
    entry = { ...fields, kind, capabilities };
  } else entry = { ...fields, kind };
  if (base?.unconfirmed && override.price === undefined) entry.unconfirmed = base.unconfirmed;
  return entry;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Partial<T>;
}

/** The built-in table with `models:` overrides and top-level `aliases:` laid over it. */
export function buildModelTable(overrides: Readonly<Record<string, ModelOverride>> = {}, aliases: Readonly<Record<string, string>> = {}, defaultModel?: string): ModelTable {
  const entries = BUILT_IN_MODELS.map((entry) => (overrides[entry.id] ? applyOverride(entry, entry.id, overrides[entry.id] as ModelOverride, `models.${entry.id}`) : entry));
  for (const [id, override] of Object.entries(overrides)) {
    if (!BUILT_IN_MODELS.some((entry) => entry.id === id)) entries.push(applyOverride(undefined, id, override, `models.${id}`));
  }
  return new ModelTable(entries, aliases, defaultModel);
}

export const DEFAULT_MODEL_TABLE = buildModelTable();

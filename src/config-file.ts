/**
 * The optional config file (`GATEWAY_CONFIG`, YAML or JSON): the model table (providers per model, in
 * order, with per-attempt timeouts; aliases), retry, deadline and breaker settings. Secrets do not go
 * here: credentials come from the environment only. Every mistake is a ConfigError naming the path.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { MODEL_CATALOG, type PublicModelId } from "./api/models.js";
import { DEFAULT_PRICES, toMicros, type PriceTable } from "./accounts/prices.js";
import type { ResiliencePolicy } from "./pipeline/resilience.js";
import { BUILT_IN_ALIASES, DEFAULT_ROUTING, FAMILY_PROVIDERS, PROVIDER_IDS, type RoutingConfig } from "./providers/registry.js";
import type { ProviderId } from "./providers/types.js";

export interface FileConfig {
  routing: RoutingConfig;
  policy: Partial<ResiliencePolicy>;
  prices: PriceTable;
}

const milliseconds = (max: number) => z.number().int().min(1).max(max);
const providerId = z.enum(PROVIDER_IDS as [ProviderId, ...ProviderId[]], { error: `must be one of ${PROVIDER_IDS.join(", ")}` });
const route = z.union([providerId, z.strictObject({ provider: providerId, timeout_ms: milliseconds(600_000).optional() })], {
  error: `must be one of ${PROVIDER_IDS.join(", ")}, or {provider, timeout_ms}`,
});
const alias = z.string().min(1).max(100).regex(/^[A-Za-z0-9._:-]+$/, { error: "aliases use letters, digits and . _ : -" });

const schema = z.strictObject({
  attempt_timeout_ms: milliseconds(600_000).optional(),
  deadline_ms: milliseconds(3_600_000).optional(),
  retry: z.strictObject({
    max_attempts: z.number().int().min(1).max(10).optional(),
    base_delay_ms: z.number().int().min(0).max(60_000).optional(),
    max_delay_ms: z.number().int().min(0).max(600_000).optional(),
  }).optional(),
  breaker: z.strictObject({
    failure_threshold: z.number().int().min(1).max(1000).optional(),
    cooldown_ms: milliseconds(3_600_000).optional(),
  }).optional(),
  aliases: z.record(alias, z.string()).optional(),
  prices: z.strictObject({
    currency: z.string().regex(/^[A-Z]{3}$/, { error: "must be a three-letter currency code, e.g. CNY or USD" }).optional(),
    per_image: z.record(z.string(), z.number().min(0).max(1000)).optional(),
  }).optional(),
  models: z.record(z.string(), z.strictObject({
    providers: z.array(route).min(1).optional(),
    aliases: z.array(alias).optional(),
  })).optional(),
});

export class ConfigFileError extends Error {}

export function parseConfigFile(text: string, name: string): FileConfig {
  let raw: unknown;
  try {
    raw = name.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigFileError(`${name} is not valid ${name.endsWith(".json") ? "JSON" : "YAML"}: ${(error as Error).message.split("\n")[0]}`);
  }
  const parsed = schema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join(".") || "(top level)";
    throw new ConfigFileError(`${name}: ${path}: ${issue?.message ?? "invalid"}`);
  }
  const file = parsed.data;
  const known = new Map(MODEL_CATALOG.map((entry) => [entry.id as string, entry]));
  const aliases: Record<string, PublicModelId> = { ...BUILT_IN_ALIASES };
  const addAlias = (aliasName: string, target: string, where: string) => {
    if (!known.has(target)) throw new ConfigFileError(`${name}: ${where}: "${target}" is not a model the gateway serves; one of ${[...known.keys()].join(", ")}`);
    if (known.has(aliasName)) throw new ConfigFileError(`${name}: ${where}: alias "${aliasName}" is already a model id`);
    if (aliases[aliasName] && aliases[aliasName] !== target) throw new ConfigFileError(`${name}: ${where}: alias "${aliasName}" points to two models`);
    aliases[aliasName] = target as PublicModelId;
  };
  for (const [aliasName, target] of Object.entries(file.aliases ?? {})) addAlias(aliasName, target, `aliases.${aliasName}`);

  const models: RoutingConfig["models"] = {};
  for (const [id, entry] of Object.entries(file.models ?? {})) {
    const model = known.get(id);
    if (!model) throw new ConfigFileError(`${name}: models.${id}: not a model the gateway serves; one of ${[...known.keys()].join(", ")}`);
    for (const aliasName of entry.aliases ?? []) addAlias(aliasName, id, `models.${id}.aliases`);
    if (!entry.providers) continue;
    models[model.id] = entry.providers.map((item, index) => {
      const provider = typeof item === "string" ? item : item.provider;
      if (!FAMILY_PROVIDERS[model.family].includes(provider)) {
        throw new ConfigFileError(`${name}: models.${id}.providers.${index}: ${provider} cannot serve ${id}; use ${FAMILY_PROVIDERS[model.family].join(" or ")}`);
      }
      return typeof item === "string" || item.timeout_ms === undefined ? { provider } : { provider, timeoutMs: item.timeout_ms };
    });
  }

  const perImageMicros = { ...DEFAULT_PRICES.perImageMicros };
  for (const [id, price] of Object.entries(file.prices?.per_image ?? {})) {
    if (!known.has(id)) throw new ConfigFileError(`${name}: prices.per_image.${id}: not a model the gateway serves; one of ${[...known.keys()].join(", ")}`);
    perImageMicros[id as PublicModelId] = toMicros(price);
  }
  const prices: PriceTable = { currency: file.prices?.currency ?? DEFAULT_PRICES.currency, perImageMicros };

  const policy: Partial<ResiliencePolicy> = {};
  if (file.deadline_ms !== undefined) policy.deadlineMs = file.deadline_ms;
  if (file.retry?.max_attempts !== undefined) policy.maxAttempts = file.retry.max_attempts;
  if (file.retry?.base_delay_ms !== undefined) policy.baseDelayMs = file.retry.base_delay_ms;
  if (file.retry?.max_delay_ms !== undefined) policy.maxDelayMs = file.retry.max_delay_ms;
  if (file.breaker?.failure_threshold !== undefined) policy.failureThreshold = file.breaker.failure_threshold;
  if (file.breaker?.cooldown_ms !== undefined) policy.cooldownMs = file.breaker.cooldown_ms;
  return {
    routing: { attemptTimeoutMs: file.attempt_timeout_ms ?? DEFAULT_ROUTING.attemptTimeoutMs, models, aliases },
    policy,
    prices,
  };
}

export function loadConfigFile(path: string): FileConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigFileError(`GATEWAY_CONFIG=${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parseConfigFile(text, path);
}

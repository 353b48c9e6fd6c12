/**
 * The optional config file (`GATEWAY_CONFIG`, YAML or JSON): the model table (providers per model, in
 * order, with per-attempt timeouts; aliases), retry, deadline and breaker settings. Secrets do not go
 * here: credentials come from the environment only. Every mistake is a ConfigError naming the path.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type * as Yaml from "yaml";
import { z } from "zod";
import { priceTableOf, type PriceTable } from "../accounts/prices.js";
import type { ModelTable} from "../models/table.js";
import { aliasName, buildModelTable, DEFAULT_MODEL_TABLE, modelOverride, ModelTableError, type ModelOverride } from "../models/table.js";
import { KIND_FAMILY } from "../models/types.js";
import type { ResiliencePolicy } from "../pipeline/resilience.js";
import { DEFAULT_ROUTING, FAMILY_PROVIDERS, PROVIDER_IDS, type RoutingConfig } from "../providers/registry.js";
import type { AccountLimits, ProviderId } from "../providers/types.js";

/** An upstream account as the file names it: its credentials by the names of environment variables (config.ts reads them). */
export interface UpstreamAccountSpec {
  /** Where it is in the file (`upstreams.2`), for the messages that refuse a start. */
  path: string;
  id: string;
  protocol: ProviderId;
  baseUrl: string | undefined;
  /** Environment variable names: `apiKey` (ark, 302ai), `accessKeyId` and `secretAccessKey` (visual). */
  env: { apiKey?: string; accessKeyId?: string; secretAccessKey?: string };
  /** Canonical model ids it serves; every model of its protocol when undefined. */
  models: string[] | undefined;
  /** Canonical model id → the id this account knows it by (BytePlus names, `ep-…` endpoints). */
  modelIds: Record<string, string>;
  weight: number;
  priority: number;
  enabled: boolean;
  /** Requests and images per minute, and requests at once, sent to it at most (across gateways on REDIS_URL). */
  limits: AccountLimits | undefined;
}

export interface FileConfig {
  routing: RoutingConfig;
  /** `upstreams:` — accounts beside (or instead of) the environment's one-account shorthand. */
  upstreams: UpstreamAccountSpec[];
  /** The model table: built-in entries with the file's `models:` and `aliases:` laid over them. */
  models: ModelTable;
  policy: Partial<ResiliencePolicy>;
  prices: PriceTable;
}

export const DEFAULT_FILE_CONFIG: FileConfig = { routing: DEFAULT_ROUTING, upstreams: [], models: DEFAULT_MODEL_TABLE, policy: {}, prices: priceTableOf(DEFAULT_MODEL_TABLE) };

const milliseconds = (max: number) => z.number().int().min(1).max(max);
const providerId = z.enum(PROVIDER_IDS as [ProviderId, ...ProviderId[]], { error: `must be one of ${PROVIDER_IDS.join(", ")}` });
// A route names a protocol (all of its accounts) or one account of `upstreams:`; which, is checked once both are known.
const routeName = z.string().min(1).max(40);
const route = z.union([routeName, z.strictObject({ provider: routeName, timeout_ms: milliseconds(600_000).optional() })], {
  error: `must be one of ${PROVIDER_IDS.join(", ")} or an upstreams id, or {provider, timeout_ms}`,
});
const environmentName = z.string().regex(/^[A-Z_][A-Z0-9_]{0,127}$/, {
  error: "must name an environment variable (A–Z, 0–9 and _) that holds the secret; the secret itself never goes in this file",
});
const upstream = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, { error: "must be 1 to 40 lower-case letters, digits, - and _, starting with a letter or digit" }),
  protocol: providerId,
  base_url: z.string().regex(/^https?:\/\/[^\s/]+/, { error: "must be an http(s) URL" }).optional(),
  api_key_env: environmentName.optional(),
  access_key_env: environmentName.optional(),
  secret_key_env: environmentName.optional(),
  models: z.array(z.string().min(1)).min(1).optional(),
  model_ids: z.record(z.string(), z.string().min(1).max(200)).optional(),
  weight: z.number().int().min(1).max(1000).optional(),
  priority: z.number().int().min(1).max(100).optional(),
  enabled: z.boolean().optional(),
  limits: z.strictObject({
    rpm: z.number().int().min(1).max(1_000_000).optional(),
    ipm: z.number().int().min(1).max(1_000_000).optional(),
    concurrency: z.number().int().min(1).max(100_000).optional(),
  }).optional(),
});

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
  /** How long a call waits, at most, when every account of its model is at its own limit (0: 503 at once). */
  limit_wait_ms: z.number().int().min(0).max(60_000).optional(),
  aliases: z.record(aliasName, z.string()).optional(),
  /** The model of a `/v1/images/generations` request without `model` (an id or alias); default Seedream 4.5. */
  default_model: z.string().min(1).optional(),
  prices: z.strictObject({
    currency: z.string().regex(/^[A-Z]{3}$/, { error: "must be a three-letter currency code, e.g. CNY or USD" }).optional(),
    per_image: z.record(z.string(), z.number().min(0).max(1000)).optional(),
  }).optional(),
  models: z.record(z.string(), modelOverride.extend({ providers: z.array(route).min(1).optional() })).optional(),
  upstreams: z.array(upstream).optional(),
});

export class ConfigFileError extends Error {}

export function parseConfigFile(text: string, name: string): FileConfig {
  let raw: unknown;
  try {
    // The YAML parser (84 modules) is loaded only by a gateway that has a YAML file to read.
    raw = name.endsWith(".json") ? JSON.parse(text) : (createRequire(import.meta.url)("yaml") as typeof Yaml).parse(text);
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

  // The model table: `models:` entries, with `prices.per_image` as their price.
  const overrides: Record<string, ModelOverride> = {};
  for (const [id, entry] of Object.entries(file.models ?? {})) overrides[id] = entry;
  const builtIn = new Set(DEFAULT_MODEL_TABLE.entries.map((entry) => entry.id));
  const known = () => [...builtIn, ...Object.keys(overrides).filter((id) => !builtIn.has(id))].join(", ");
  for (const [id, price] of Object.entries(file.prices?.per_image ?? {})) {
    if (!builtIn.has(id) && !overrides[id]) throw new ConfigFileError(`${name}: prices.per_image.${id}: not a model the gateway serves; one of ${known()}`);
    overrides[id] = { ...overrides[id], price };
  }
  let models: ModelTable;
  try {
    models = buildModelTable(overrides, file.aliases ?? {}, file.default_model);
  } catch (error) {
    if (error instanceof ModelTableError) throw new ConfigFileError(`${name}: ${error.message}`);
    throw error;
  }

  const upstreams = (file.upstreams ?? []).map((account, index): UpstreamAccountSpec => {
    const path = `upstreams.${index}`;
    const fail = (field: string, message: string) => new ConfigFileError(`${name}: ${path}.${field}: ${message}`);
    const earlier = (file.upstreams ?? []).findIndex((other) => other.id === account.id);
    if (earlier < index) throw fail("id", `${account.id} is already the id of upstreams.${earlier}; each account needs its own`);
    const wantsKey = account.protocol !== "visual";
    if (wantsKey && !account.api_key_env) throw fail("api_key_env", `a ${account.protocol} account needs the name of the variable that holds its API key`);
    if (!wantsKey && (!account.access_key_env || !account.secret_key_env)) {
      throw fail(account.access_key_env ? "secret_key_env" : "access_key_env", "a visual account needs the names of the variables that hold its AccessKeyId and SecretAccessKey");
    }
    const unexpected = wantsKey ? (account.access_key_env ? "access_key_env" : account.secret_key_env ? "secret_key_env" : undefined) : account.api_key_env ? "api_key_env" : undefined;
    if (unexpected) throw fail(unexpected, `a ${account.protocol} account does not use it`);
    // Models by any name the table knows, kept by their canonical ids; each must be one this protocol can serve.
    const canonical = (field: string, model: string) => {
      const entry = models.find(model);
      if (!entry) throw fail(field, `${model} is not a model the gateway serves; one of ${known()}`);
      const family = KIND_FAMILY[entry.kind];
      if (!FAMILY_PROVIDERS[family].includes(account.protocol)) throw fail(field, `a ${account.protocol} account cannot serve ${entry.id}; use ${FAMILY_PROVIDERS[family].join(" or ")}`);
      return entry.id;
    };
    if (account.model_ids && account.protocol !== "ark") throw fail("model_ids", "only an ark account (Volcengine Ark, BytePlus ModelArk) names models by ids of its own");
    const modelIds: Record<string, string> = {};
    for (const [model, upstreamId] of Object.entries(account.model_ids ?? {})) modelIds[canonical(`model_ids.${model}`, model)] = upstreamId;
    return {
      path, id: account.id, protocol: account.protocol, baseUrl: account.base_url?.replace(/\/+$/, ""),
      env: wantsKey ? { apiKey: account.api_key_env as string } : { accessKeyId: account.access_key_env as string, secretAccessKey: account.secret_key_env as string },
      models: account.models?.map((model, modelIndex) => canonical(`models.${modelIndex}`, model)), modelIds,
      weight: account.weight ?? 1, priority: account.priority ?? 1, enabled: account.enabled ?? true, limits: account.limits,
    };
  });

  const routes: Record<string, Array<{ provider: string; timeoutMs?: number }>> = {};
  for (const [id, entry] of Object.entries(file.models ?? {})) {
    if (!entry.providers) continue;
    const family = KIND_FAMILY[models.get(id).kind];
    routes[id] = entry.providers.map((item, index) => {
      const provider = typeof item === "string" ? item : item.provider;
      const protocol = upstreams.find((account) => account.id === provider)?.protocol ?? provider;
      if (!(PROVIDER_IDS as readonly string[]).includes(protocol)) {
        throw new ConfigFileError(`${name}: models.${id}.providers.${index}: ${provider} is neither a protocol (${PROVIDER_IDS.join(", ")}) nor an id of upstreams:`);
      }
      if (!FAMILY_PROVIDERS[family].includes(protocol as ProviderId)) {
        throw new ConfigFileError(`${name}: models.${id}.providers.${index}: ${provider} cannot serve ${id}; use ${FAMILY_PROVIDERS[family].join(" or ")}`);
      }
      return typeof item === "string" || item.timeout_ms === undefined ? { provider } : { provider, timeoutMs: item.timeout_ms };
    });
  }

  const policy: Partial<ResiliencePolicy> = {};
  if (file.deadline_ms !== undefined) policy.deadlineMs = file.deadline_ms;
  if (file.retry?.max_attempts !== undefined) policy.maxAttempts = file.retry.max_attempts;
  if (file.retry?.base_delay_ms !== undefined) policy.baseDelayMs = file.retry.base_delay_ms;
  if (file.retry?.max_delay_ms !== undefined) policy.maxDelayMs = file.retry.max_delay_ms;
  if (file.breaker?.failure_threshold !== undefined) policy.failureThreshold = file.breaker.failure_threshold;
  if (file.breaker?.cooldown_ms !== undefined) policy.cooldownMs = file.breaker.cooldown_ms;
  if (file.limit_wait_ms !== undefined) policy.limitWaitMs = file.limit_wait_ms;
  return {
    routing: { attemptTimeoutMs: file.attempt_timeout_ms ?? DEFAULT_ROUTING.attemptTimeoutMs, models: routes },
    upstreams,
    models,
    policy,
    prices: priceTableOf(models, file.prices?.currency),
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

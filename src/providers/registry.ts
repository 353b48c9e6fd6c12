/**
 * The model table: for each public model id, the ordered providers that serve it (with their per-attempt
 * timeouts), and the aliases clients may use instead of the full id.
 *
 * By default it is derived from which providers exist (which credentials are set): every provider that
 * speaks a model's protocol, direct Volcengine first, the 302.AI relay after it. A config file
 * (GATEWAY_CONFIG, config-file.ts) may list the providers of any model explicitly and add aliases.
 */
import { MODEL_CATALOG, SEEDEDIT_3_I2I, SEEDREAM_3_T2I, type ModelFamily, type PublicModelId } from "../api/models.js";
import { noUpstream } from "../errors.js";
import type { Route } from "../pipeline/resilience.js";
import type { Provider, ProviderId } from "./types.js";

/** What an operator sets to enable each provider. */
export const PROVIDER_ENV: Readonly<Record<ProviderId, string>> = {
  ark: "ARK_API_KEY",
  visual: "VOLC_ACCESSKEY and VOLC_SECRETKEY",
  "302ai": "API302_KEY",
};

export const PROVIDER_IDS = Object.keys(PROVIDER_ENV) as ProviderId[];

/** Which providers can speak each protocol at all, in the default order. */
export const FAMILY_PROVIDERS: Readonly<Record<ModelFamily, readonly ProviderId[]>> = {
  ark: ["ark", "302ai"],
  visual: ["visual", "302ai"],
};

export interface RoutingConfig {
  /** Per-attempt timeout for routes that do not set their own. */
  attemptTimeoutMs: number;
  /** Explicit provider lists; a model not listed keeps its default list. */
  models: Partial<Record<PublicModelId, ReadonlyArray<{ provider: ProviderId; timeoutMs?: number }>>>;
  /** alias → public model id. */
  aliases: Readonly<Record<string, PublicModelId>>;
}

/** Short names that always work; a config file adds its own. */
export const BUILT_IN_ALIASES: Readonly<Record<string, PublicModelId>> = { "seedream-3": SEEDREAM_3_T2I, "seededit-3": SEEDEDIT_3_I2I };

export const DEFAULT_ROUTING: RoutingConfig = { attemptTimeoutMs: 60_000, models: {}, aliases: BUILT_IN_ALIASES };

export interface Router {
  /** The public id for a model name or alias; any other string comes back unchanged. */
  canonical(name: string): string;
  /** The model's routes in order; a 503 (-10008) naming what to set when none is configured. */
  routesFor(model: PublicModelId): Route[];
  /** Models that can be served now, for `/v1/models`. */
  servable(): Array<{ id: PublicModelId; created: number; provider: Provider }>;
  aliases: Readonly<Record<string, PublicModelId>>;
  providers: readonly Provider[];
}

export function createRouter(providers: readonly Provider[], routing: RoutingConfig = DEFAULT_ROUTING): Router {
  const byId = new Map(providers.map((provider) => [provider.id, provider]));
  const table = new Map<PublicModelId, { routes: Route[]; wanted: readonly ProviderId[] }>();
  for (const entry of MODEL_CATALOG) {
    const listed = routing.models[entry.id];
    const wanted: ReadonlyArray<{ provider: ProviderId; timeoutMs?: number }> = listed ?? FAMILY_PROVIDERS[entry.family].map((provider) => ({ provider }));
    const routes = wanted.flatMap(({ provider: id, timeoutMs }) => {
      const provider = byId.get(id);
      return provider && provider.families.includes(entry.family) ? [{ provider, timeoutMs: timeoutMs ?? routing.attemptTimeoutMs }] : [];
    });
    table.set(entry.id, { routes, wanted: wanted.map((route) => route.provider) });
  }
  return {
    providers,
    aliases: routing.aliases,
    canonical: (name) => routing.aliases[name] ?? name,
    routesFor(model) {
      const entry = table.get(model);
      if (entry && entry.routes.length > 0) return entry.routes;
      const toSet = (entry?.wanted ?? []).map((id) => PROVIDER_ENV[id]).join(", or ");
      throw noUpstream(model, toSet || "a provider for it in GATEWAY_CONFIG");
    },
    servable() {
      return MODEL_CATALOG.flatMap((entry) => {
        const first = table.get(entry.id)?.routes[0];
        return first ? [{ id: entry.id, created: entry.created, provider: first.provider }] : [];
      });
    },
  };
}

/**
 * The router: for each model of the model table (models/table.ts), the ordered providers that serve it
 * (with their per-attempt timeouts).
 *
 * By default it is derived from which providers exist (which credentials are set): every provider that
 * speaks a model's protocol, direct Volcengine first, the 302.AI relay after it. A config file
 * (GATEWAY_CONFIG, config-file.ts) may list the providers of any model explicitly.
 */
import { noUpstream } from "../errors.js";
import { DEFAULT_MODEL_TABLE, type ModelTable } from "../models/table.js";
import { KIND_FAMILY, type ModelEntry, type ModelFamily } from "../models/types.js";
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
  /** Explicit provider lists by model id; a model not listed keeps its default list. */
  models: Readonly<Record<string, ReadonlyArray<{ provider: ProviderId; timeoutMs?: number }>>>;
}

export const DEFAULT_ROUTING: RoutingConfig = { attemptTimeoutMs: 60_000, models: {} };

export interface Router {
  /** The model table the routes are for. */
  models: ModelTable;
  /** The model id for a model name or alias; any other string comes back unchanged. */
  canonical(name: string): string;
  /** The model's routes in order; a 503 (-10008) naming what to set when none is configured. */
  routesFor(model: string): Route[];
  /** Whether some provider is configured for the model. */
  configured(model: string): boolean;
  /**
   * Models that can be served now, for `/v1/models`: a model some provider serves, or a retired one whose
   * replacement can be served (its requests are served translated).
   */
  servable(): Array<{ entry: ModelEntry; provider: Provider }>;
  providers: readonly Provider[];
}

export function createRouter(providers: readonly Provider[], routing: RoutingConfig = DEFAULT_ROUTING, models: ModelTable = DEFAULT_MODEL_TABLE): Router {
  const byId = new Map(providers.map((provider) => [provider.id, provider]));
  const table = new Map<string, { routes: Route[]; wanted: readonly ProviderId[] }>();
  for (const entry of models.entries) {
    const family = KIND_FAMILY[entry.kind];
    const listed = routing.models[entry.id];
    const wanted: ReadonlyArray<{ provider: ProviderId; timeoutMs?: number }> = listed ?? FAMILY_PROVIDERS[family].map((provider) => ({ provider }));
    const routes = wanted.flatMap(({ provider: id, timeoutMs }) => {
      const provider = byId.get(id);
      return provider && provider.families.includes(family) ? [{ provider, timeoutMs: timeoutMs ?? routing.attemptTimeoutMs }] : [];
    });
    table.set(entry.id, { routes, wanted: wanted.map((route) => route.provider) });
  }
  const first = (id: string) => table.get(id)?.routes[0]?.provider;
  return {
    models,
    providers,
    canonical: (name) => models.find(name)?.id ?? name,
    configured: (model) => (table.get(model)?.routes.length ?? 0) > 0,
    routesFor(model) {
      const entry = table.get(model);
      if (entry && entry.routes.length > 0) return entry.routes;
      const toSet = (entry?.wanted ?? []).map((id) => PROVIDER_ENV[id]).join(", or ");
      throw noUpstream(model, toSet || "a provider for it in GATEWAY_CONFIG");
    },
    servable() {
      return models.entries.flatMap((entry) => {
        const retired = entry.lifecycle.state === "retired";
        const provider = retired ? (entry.lifecycle.replacement ? first(entry.lifecycle.replacement) : undefined) : first(entry.id);
        return provider ? [{ entry, provider }] : [];
      });
    },
  };
}

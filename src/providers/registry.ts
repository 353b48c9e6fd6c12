/**
 * The router: for each model of the model table (models/table.ts), the ordered providers that serve it
 * (with their per-attempt timeouts).
 *
 * By default it is derived from which providers exist (which credentials are set): every provider that
 * speaks a model's protocol, direct Volcengine first, the 302.AI relay after it. A config file
 * (GATEWAY_CONFIG, config/file.ts) may list the providers of any model explicitly.
 */
import { noUpstream } from "../errors/errors.js";
import { accountsSwitchedOff } from "./upstream-error.js";
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
  /**
   * Explicit provider lists by model id, each entry an account id or a protocol (all of its accounts, by priority); a
   * model not listed keeps its default list.
   */
  models: Readonly<Record<string, ReadonlyArray<{ provider: string; timeoutMs?: number }>>>;
}

export const DEFAULT_ROUTING: RoutingConfig = { attemptTimeoutMs: 60_000, models: {} };

export interface Router {
  /** The model table the routes are for. */
  models: ModelTable;
  /** The model id for a model name or alias; any other string comes back unchanged. */
  canonical(name: string): string;
  /**
   * The model's routes in order — accounts of one protocol and priority rotated by weight, call by call;
   * a 503 (-10008) naming what to set when none is configured.
   */
  routesFor(model: string): Route[];
  /** Whether some provider is configured for the model. */
  configured(model: string): boolean;
  /**
   * Models that can be served now, for `/v1/models`: a model some provider serves, or a retired one whose
   * replacement can be served (its requests are served translated).
   */
  servable(): Array<{ entry: ModelEntry; provider: Provider }>;
  providers: readonly Provider[];
  /** Accounts switched off at run time (`/admin/upstreams`): passed over by `routesFor` while another route remains. */
  setDisabled(ids: ReadonlySet<string>): void;
  readonly disabled: ReadonlySet<string>;
}

/**
 * Orders runs of accounts of one protocol and priority by smooth weighted round-robin (nginx's): each call, every
 * account's credit grows by its weight, the one with the most goes first and pays back the run's total weight. Over
 * each stretch of calls as long as the total weight, an account of weight 2 goes first exactly twice as often as one of
 * weight 1, evenly spread; the others follow in their configured order (the fallbacks when the first fails).
 */
export function weightedRotation(): (runKey: string, run: readonly Route[]) => Route[] {
  const credits = new Map<string, number[]>();
  return (runKey, run) => {
    const credit = credits.get(runKey) ?? run.map(() => 0);
    credits.set(runKey, credit);
    const total = run.reduce((sum, route) => sum + route.provider.weight, 0);
    let best = 0;
    for (const [index, route] of run.entries()) {
      credit[index] = (credit[index] ?? 0) + route.provider.weight;
      if ((credit[index] as number) > (credit[best] as number)) best = index;
    }
    credit[best] = (credit[best] as number) - total;
    return [run[best] as Route, ...run.filter((_, index) => index !== best)];
  };
}

/** Whether two routes are accounts of one run: the same protocol and priority, rotated by weight among themselves. */
const sameRun = (a: Route | undefined, b: Route | undefined) => a !== undefined && b !== undefined && a.provider.protocol === b.provider.protocol && a.provider.priority === b.provider.priority;

export function createRouter(providers: readonly Provider[], routing: RoutingConfig = DEFAULT_ROUTING, models: ModelTable = DEFAULT_MODEL_TABLE): Router {
  const rotate = weightedRotation();
  /** The routes with each run of one protocol and priority rotated by weight (see weightedRotation). */
  const arranged = (model: string, routes: readonly Route[]): Route[] => {
    const ordered: Route[] = [];
    for (let start = 0; start < routes.length; ) {
      const head = routes[start] as Route;
      let end = start + 1;
      while (end < routes.length && sameRun(routes[end], head)) end += 1;
      ordered.push(...(end - start > 1 ? rotate(`${model}:${start}`, routes.slice(start, end)) : [head]));
      start = end;
    }
    return ordered;
  };
  const byId = new Map(providers.map((provider) => [provider.id, provider]));
  // A protocol's accounts, best priority first (the order of configuration among equals).
  const accountsOf = (protocol: ProviderId) => providers.filter((provider) => provider.protocol === protocol).sort((a, b) => a.priority - b.priority);
  const table = new Map<string, { routes: Route[]; wanted: readonly ProviderId[]; weighted: boolean }>();
  for (const entry of models.entries) {
    const family = KIND_FAMILY[entry.kind];
    const listed = routing.models[entry.id];
    const wanted: ReadonlyArray<{ provider: string; timeoutMs?: number }> = listed ?? FAMILY_PROVIDERS[family].map((provider) => ({ provider }));
    const routes = wanted.flatMap(({ provider: name, timeoutMs }) => {
      const named = byId.get(name);
      const accounts = named ? [named] : (PROVIDER_IDS as readonly string[]).includes(name) ? accountsOf(name as ProviderId) : [];
      return accounts
        .filter((provider) => provider.families.includes(family) && (!provider.models || provider.models.has(entry.id)))
        .map((provider) => ({ provider, timeoutMs: timeoutMs ?? routing.attemptTimeoutMs }));
    });
    // Only a model two accounts of one protocol and priority serve is ordered per request.
    const weighted = routes.some((route, index) => index > 0 && sameRun(routes[index - 1], route));
    const protocols = wanted.flatMap(({ provider: name }) => {
      const protocol = byId.get(name)?.protocol ?? name;
      return (PROVIDER_IDS as readonly string[]).includes(protocol) ? [protocol as ProviderId] : [];
    });
    table.set(entry.id, { routes, wanted: protocols, weighted });
  }
  let disabled: ReadonlySet<string> = new Set();
  const first = (id: string) => table.get(id)?.routes.find((route) => !disabled.has(route.provider.id))?.provider;
  return {
    models,
    providers,
    canonical: (name) => models.find(name)?.id ?? name,
    configured: (model) => (table.get(model)?.routes.length ?? 0) > 0,
    setDisabled(ids) {
      disabled = new Set(ids);
    },
    get disabled() {
      return disabled;
    },
    routesFor(model) {
      const entry = table.get(model);
      // Switched-off accounts drop out; a model whose every account is off is a 503 that says so.
      const routes = entry && disabled.size > 0 ? entry.routes.filter((route) => !disabled.has(route.provider.id)) : entry?.routes;
      if (entry && routes && routes.length > 0) return entry.weighted ? arranged(model, routes) : routes;
      if (entry && entry.routes.length > 0) throw accountsSwitchedOff(model, entry.routes.map((route) => route.provider.id));
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

/**
 * A router whose table can be replaced while it serves (GATEWAY_CONFIG reloaded on SIGHUP): every read goes to the
 * current one, and the accounts switched off at run time carry over. A request keeps the routes it was given.
 */
export function swappableRouter(initial: Router): Router & { swap(next: Router): void } {
  let current = initial;
  return {
    get models() {
      return current.models;
    },
    get providers() {
      return current.providers;
    },
    get disabled() {
      return current.disabled;
    },
    canonical: (name) => current.canonical(name),
    routesFor: (model) => current.routesFor(model),
    configured: (model) => current.configured(model),
    servable: () => current.servable(),
    setDisabled: (ids) => current.setDisabled(ids),
    swap(next) {
      next.setDisabled(current.disabled);
      current = next;
    },
  };
}

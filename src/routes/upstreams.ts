/**
 * `GET /admin/upstreams`: every upstream account — protocol, weight, priority, models, limits and their use now, whether it is switched
 * on, its breaker, and its last failure — and `POST /admin/upstreams/{id}/disable|enable`, stored in the database so
 * that every gateway sharing it follows within a few seconds (and this one at once). Never a secret.
 */
import type { UpstreamAccountView } from "@doubao-gateway/sdk";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { invalidRequest } from "../errors/errors.js";
import type { Resilience } from "../pipeline/resilience.js";
import type { Router } from "../providers/registry.js";
import type { UpstreamSwitches } from "../stores/upstream-switches.js";

/** The last failed attempt of each account (told by the resilience layer's observer). */
export type LastFailures = Map<string, { outcome: string; code: string | undefined; at: number }>;

export interface UpstreamRouteDeps {
  router: Router;
  resilience: Resilience;
  switches: UpstreamSwitches;
  lastFailures: LastFailures;
  now: () => number;
}

export function registerUpstreamRoutes(app: FastifyInstance, deps: UpstreamRouteDeps): void {
  const describe = (): Promise<UpstreamAccountView[]> =>
    Promise.all(deps.router.providers.map(async (provider) => {
      const breaker = deps.resilience.breaker(provider.id);
      const failure = deps.lastFailures.get(provider.id);
      return {
        id: provider.id, protocol: provider.protocol, label: provider.label, origin: provider.origin, enabled: !deps.router.disabled.has(provider.id),
        weight: provider.weight, priority: provider.priority, models: provider.models ? [...provider.models] : null, limits: provider.limits ?? null,
        limit_use: await deps.resilience.accountUse(provider), breaker: breaker.state, resting_ms: breaker.restingFor(deps.now()),
        last_failure: failure ? { outcome: failure.outcome, code: failure.code ?? null, at: new Date(failure.at).toISOString() } : null,
      };
    }));
  app.get("/admin/upstreams", async () => ({ object: "list", data: await describe() }));
  const toggle = (enabled: boolean) => async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const id = request.params.id;
    if (!deps.router.providers.some((provider) => provider.id === id)) {
      throw invalidRequest(404, "NotFound", `No upstream account ${id.slice(0, 64)} in this gateway's configuration; GET /admin/upstreams lists them.`, `网关配置中没有上游账号 ${id.slice(0, 64)}。`);
    }
    await deps.switches.set(id, enabled, deps.now());
    // This gateway at once; the others at their next read of the switches.
    deps.router.setDisabled(await deps.switches.disabled());
    return (await describe()).find((row) => row.id === id);
  };
  app.post("/admin/upstreams/:id/disable", toggle(false));
  app.post("/admin/upstreams/:id/enable", toggle(true));
}

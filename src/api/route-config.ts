/**
 * A route's facts, kept in its own Fastify `config` and read back through `request.routeOptions.config`: whether it
 * needs an API key, whether it may run as a task (`?async=true`, with `Idempotency-Key` and `X-Client-Request-Id`
 * kept), and the dialect its answers and errors speak. No list of routes is kept anywhere else: the hooks ask the
 * route, and 405 comes from the methods the routes themselves were registered with (see `routeMethods`).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";

/** The shape of a route's answers and errors: Ark's (and 302.AI's images API), OpenAI's, or Volcengine Visual's. */
export type Dialect = "ark" | "openai" | "volcengine";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Served without an API key (health, metrics, files, the web app). */
    public?: boolean;
    /** Takes `?async=true` (a task), `Idempotency-Key` and `X-Client-Request-Id`. */
    async?: boolean;
    /** Ark's when absent. */
    dialect?: Dialect;
  }
}

export const PUBLIC = { config: { public: true } } as const;

export const routeConfig = (request: FastifyRequest) => request.routeOptions.config;

/**
 * The methods each registered path answers, gathered from the routes as they are added; `allowed(path)` names those
 * a path of no route of the method asked has (`GET, POST`), or undefined when no route has the path at all.
 */
export function routeMethods(app: FastifyInstance): { allowed(path: string): { methods: string; dialect: Dialect | undefined } | undefined } {
  const routes: Array<{ pattern: RegExp; methods: Set<string>; dialect: Dialect | undefined }> = [];
  app.addHook("onRoute", (route) => {
    if (route.method === "HEAD" || (Array.isArray(route.method) && route.method.every((method) => method === "HEAD"))) return;
    // `:param` is one segment, `*` the rest; everything else is literal.
    const source = route.url.split("/").map((part) => (part.startsWith(":") ? "[^/]+" : part === "*" ? ".*" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("/");
    const pattern = new RegExp(`^${source}$`);
    const known = routes.find((entry) => entry.pattern.source === pattern.source);
    const methods = known?.methods ?? new Set<string>();
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) if (method !== "HEAD") methods.add(method);
    if (!known) routes.push({ pattern, methods, dialect: route.config?.dialect });
  });
  return {
    allowed(path) {
      const matching = routes.filter((entry) => entry.pattern.test(path));
      const methods = new Set(matching.flatMap((entry) => [...entry.methods]));
      if (methods.size === 0) return undefined;
      // The path's own dialect: its routes' (a wrong method on /doubao/drawing is answered as Visual answers).
      return { methods: [...methods].sort((a, b) => (a === "GET" ? -1 : b === "GET" ? 1 : a.localeCompare(b))).join(", "), dialect: matching.find((entry) => entry.dialect)?.dialect };
    },
  };
}

/** `/admin/keys…`, `/admin/usage` and `/admin/requests` (admin keys only; the auth hook checks the role) and `GET /v1/usage` (a key's own usage). */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Accounts } from "../accounts/accounts.js";
import { KeyAdmin, recentRequests, usageCsv, usageReport } from "../accounts/key-admin.js";
import type { KeyStore } from "../stores/keys.js";

type WithId = FastifyRequest<{ Params: { id: string } }>;

export function registerAccountRoutes(app: FastifyInstance, deps: { keys: KeyStore; accounts: Accounts }): void {
  const admin = new KeyAdmin(deps.keys, deps.accounts);

  app.post("/admin/keys", async (request, reply) => reply.code(201).send(await admin.create(request.body)));
  app.get("/admin/keys", async () => ({ object: "list", data: await admin.list() }));
  app.get("/admin/keys/:id", async (request: WithId) => admin.show(request.params.id));
  app.patch("/admin/keys/:id", async (request: WithId) => admin.update(request.params.id, request.body));
  app.post("/admin/keys/:id/disable", async (request: WithId) => admin.setDisabled(request.params.id, true));
  app.post("/admin/keys/:id/enable", async (request: WithId) => admin.setDisabled(request.params.id, false));
  app.delete("/admin/keys/:id", async (request: WithId) => admin.delete(request.params.id));

  const send = (request: FastifyRequest, reply: FastifyReply, report: Awaited<ReturnType<typeof usageReport>>) => {
    const format = (request.query as { format?: string }).format;
    if (format === "csv") return reply.type("text/csv; charset=utf-8").send(usageCsv(report));
    return reply.send(report);
  };
  app.get("/admin/requests", async (request) => recentRequests(deps.accounts, request.query));
  app.get("/admin/usage", async (request, reply) => send(request, reply, await usageReport(deps.accounts, request.query, { by: ["key", "model", "day"] })));
  app.get("/v1/usage", async (request, reply) => {
    const key = request.apiKey;
    const report = await usageReport(deps.accounts, { ...(request.query as object), key: undefined }, { by: ["model", "day"], ...(key ? { keyId: key.id } : {}) });
    return send(request, reply, report);
  });
}

/** `GET /v1/models`, `GET /health`, `GET /files/...`, `GET /openapi.json`. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { invalidRequest } from "../errors.js";
import type { Router } from "../providers/registry.js";
import { BLOB_KEY, type BlobStorage } from "../storage/types.js";
import { buildOpenApi } from "./openapi.js";

export interface MetaDeps {
  router: Router;
  storage: BlobStorage;
  fileTtlMs: number;
  publicBaseUrl: string;
  now?: () => number;
}

const fileGone = () =>
  invalidRequest(404, "NotFound", "This file does not exist or has expired (results are kept for a limited time).", "文件不存在或已过期。");

export function registerMetaRoutes(app: FastifyInstance, deps: MetaDeps): void {
  const now = deps.now ?? Date.now;

  app.get("/v1/models", async () => ({
    object: "list",
    data: deps.router.servable().map((entry) => ({ id: entry.id, object: "model", created: entry.created, owned_by: entry.provider.label })),
  }));

  app.get("/health", async () => ({
    status: "ok",
    providers: deps.router.providers.map((provider) => ({ id: provider.id, label: provider.label })),
  }));

  const openApi = buildOpenApi(deps.publicBaseUrl);
  app.get("/openapi.json", async () => openApi);

  app.get("/files/:day/:name", async (request: FastifyRequest<{ Params: { day: string; name: string } }>, reply: FastifyReply) => {
    const key = `${request.params.day}/${request.params.name}`;
    if (!BLOB_KEY.test(key)) throw fileGone();
    const stored = await deps.storage.get(key);
    if (!stored) throw fileGone();
    const age = now() - stored.storedAt.getTime();
    if (age >= deps.fileTtlMs) {
      await deps.storage.delete(key);
      throw fileGone();
    }
    return reply
      .type(key.endsWith(".png") ? "image/png" : "image/jpeg")
      .header("cache-control", `private, max-age=${Math.max(0, Math.floor((deps.fileTtlMs - age) / 1000))}`)
      .send(stored.bytes);
  });
}

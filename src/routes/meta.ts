/** `GET /v1/models`, `GET /health`, `GET /files/...`, `GET /openapi.json`. */
import type { ModelObject } from "@doubao-gateway/sdk";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { invalidRequest } from "../errors/errors.js";
import type { ModelEntry } from "../models/types.js";
import type { Resilience } from "../pipeline/resilience.js";
import type { Router } from "../providers/registry.js";
import type { Provider } from "../providers/types.js";
import { BLOB_KEY, type BlobStorage } from "../storage/types.js";
import { buildOpenApi } from "../api/openapi.js";
import { PUBLIC } from "../api/route-config.js";

export interface MetaDeps {
  router: Router;
  storage: BlobStorage;
  fileTtlMs: number;
  /** `FILE_SERVING`: send the bytes (default), or redirect to the storage's presigned URL. */
  fileServing?: "gateway" | "presigned";
  publicBaseUrl: string;
  /** What `/ready` checks besides the upstreams: name → a probe that throws when the part is down. */
  checks?: Record<string, () => Promise<void>>;
  /** The breakers, for `/ready`. */
  resilience?: Resilience;
  /** The price table's currency, shown with each model's price. */
  currency?: string;
  now?: () => number;
}

const fileGone = () =>
  invalidRequest(404, "NotFound", "This file does not exist or has expired (results are kept for a limited time).", "文件不存在或已过期。");

export function registerMetaRoutes(app: FastifyInstance, deps: MetaDeps): void {
  const now = deps.now ?? Date.now;

  const currency = deps.currency ?? "CNY";
  /** One model as `/v1/models` shows it: OpenAI's four fields, then the table's entry. */
  const describe = (entry: ModelEntry, provider: Provider | undefined): ModelObject => ({
    id: entry.id,
    object: "model",
    created: entry.created,
    owned_by: provider?.label ?? "none",
    kind: entry.kind,
    aliases: entry.aliases,
    lifecycle: { ...entry.lifecycle, ...(entry.lifecycle.state === "retired" && entry.lifecycle.replacement ? { served_by: entry.lifecycle.replacement } : {}) },
    ...(entry.kind === "seedream-4" ? { capabilities: entry.capabilities } : {}),
    price: { per_image: entry.price_micros / 1_000_000, currency },
    ...(entry.unconfirmed ? { unconfirmed: entry.unconfirmed } : {}),
  });

  // A key limited to some models sees only those: what it lists is what it may call.
  app.get("/v1/models", async (request) => {
    const allowed = request.apiKey?.allowedModels;
    return {
      object: "list",
      data: deps.router.servable().filter(({ entry }) => !allowed || allowed.includes(entry.id)).map(({ entry, provider }) => describe(entry, provider)),
    };
  });

  app.get("/v1/models/:id", async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const entry = deps.router.models.find(request.params.id);
    if (!entry) {
      throw invalidRequest(404, "NotFound", `No model ${request.params.id.slice(0, 100)} in this gateway's table; GET /v1/models lists those it serves.`, `网关模型表中没有模型 ${request.params.id.slice(0, 100)}。`);
    }
    return describe(entry, deps.router.servable().find((item) => item.entry.id === entry.id)?.provider);
  });

  // Ready to serve: some upstream is configured and its circuit breaker lets requests through (load balancers route on this).
  app.get("/ready", PUBLIC, async (_request, reply) => {
    const now = Date.now();
    const providers = deps.router.providers.map((provider) => {
      const breaker = deps.resilience?.breaker(provider.id);
      const open = breaker ? breaker.state === "open" && breaker.restingFor(now) > 0 : false;
      return { id: provider.id, label: provider.label, breaker: breaker?.state ?? "closed", usable: !open };
    });
    const dependencies: Record<string, string> = {};
    await Promise.all(Object.entries(deps.checks ?? {}).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([check(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("no answer within 2 s")), 2_000)))]);
        dependencies[name] = "ok";
      } catch (error) {
        dependencies[name] = `down: ${(error as Error).message.slice(0, 160)}`;
      } finally {
        clearTimeout(timer);
      }
    }));
    const down = Object.entries(dependencies).filter(([, state]) => state !== "ok").map(([name]) => name);
    const upstream = providers.some((provider) => provider.usable);
    const reasons = [
      ...(upstream ? [] : [providers.length === 0 ? "no upstream is configured: set ARK_API_KEY, VOLC_ACCESSKEY + VOLC_SECRETKEY or API302_KEY" : "every upstream's circuit breaker is open"]),
      ...down.map((name) => `${name} is not reachable`),
    ];
    const ready = reasons.length === 0;
    return reply.code(ready ? 200 : 503).send({ ready, providers, dependencies, ...(ready ? {} : { reason: reasons.join("; ") }) });
  });

  app.get("/health", PUBLIC, async () => ({
    status: "ok",
    providers: deps.router.providers.map((provider) => ({ id: provider.id, label: provider.label })),
  }));

  const openApi = buildOpenApi(deps.publicBaseUrl);
  app.get("/openapi.json", PUBLIC, async () => openApi);

  app.get("/files/:day/:name", PUBLIC, async (request: FastifyRequest<{ Params: { day: string; name: string } }>, reply: FastifyReply) => {
    const key = `${request.params.day}/${request.params.name}`;
    if (!BLOB_KEY.test(key)) throw fileGone();
    // Presigned: the storage answers with the bytes; the redirect lives no longer than the file or the signature.
    const { storedAt, signedUrl } = deps.storage;
    if (deps.fileServing === "presigned" && storedAt && signedUrl) {
      const at = await storedAt(key);
      const left = at ? Math.floor((deps.fileTtlMs - (now() - at.getTime())) / 1000) : 0;
      if (left <= 0) throw fileGone();
      const expires = Math.min(left, 3600);
      return reply.code(302).header("location", await signedUrl(key, expires)).header("cache-control", `private, max-age=${Math.max(0, expires - 60)}`).send();
    }
    // A stored result never changes: its key is its version.
    const etag = `"${request.params.name}"`;
    if (request.headers["if-none-match"] === etag && storedAt) {
      const at = await storedAt(key);
      if (at && now() - at.getTime() < deps.fileTtlMs) return reply.code(304).header("etag", etag).send();
    }
    const stored = await deps.storage.get(key);
    if (!stored) throw fileGone();
    const age = now() - stored.storedAt.getTime();
    if (age >= deps.fileTtlMs) {
      await deps.storage.delete(key);
      throw fileGone();
    }
    reply
      .type(key.endsWith(".png") ? "image/png" : "image/jpeg")
      .header("cache-control", `private, max-age=${Math.max(0, Math.floor((deps.fileTtlMs - age) / 1000))}`)
      .header("accept-ranges", "bytes")
      .header("etag", etag);
    const range = byteRange(request.headers.range, stored.bytes.length);
    if (range === "unsatisfiable") {
      return reply.code(416).header("content-range", `bytes */${stored.bytes.length}`).send();
    }
    if (range) {
      return reply.code(206).header("content-range", `bytes ${range.start}-${range.end}/${stored.bytes.length}`).send(stored.bytes.subarray(range.start, range.end + 1));
    }
    return reply.send(stored.bytes);
  });
}

/**
 * A single `Range: bytes=…` (RFC 9110 §14.1.2): `a-b`, `a-` or the last `-n` bytes. Several ranges, or another
 * unit, are answered whole (allowed by the RFC); a range past the end is unsatisfiable (416).
 */
export function byteRange(header: string | undefined, size: number): { start: number; end: number } | "unsatisfiable" | undefined {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match || (match[1] === "" && match[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    if (start >= size) return "unsatisfiable";
    end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
    if (end < start) return undefined;
  }
  return start >= size ? "unsatisfiable" : { start, end };
}

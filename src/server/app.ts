/** buildApp(deps) → a Fastify instance with every route, the auth hook and the one error renderer. No side effects at import. */
import { randomBytes, timingSafeEqual } from "node:crypto";
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from "fastify";
import { adminOnly, ErrCode, GatewayError, internalError, invalidRequest, keyRefused, renderError } from "../errors/errors.js";
import { BREAKER_VALUES, type GatewayMetrics } from "./metrics.js";
import { newRequestId } from "../process/request-id.js";
import { registerAccountRoutes } from "../routes/accounts.js";
import { registerAsync } from "../routes/async.js";
import { TASK_KEY_HEADER, TASK_TOKEN_HEADER } from "../pipeline/replay.js";
import { registerDrawingRoutes } from "../routes/drawing.js";
import { registerEditRoutes } from "../routes/edits.js";
import { registerImageRoutes } from "../routes/images.js";
import type { RouteDeps } from "../pipeline/ark-answers.js";
import { registerMetaRoutes } from "../routes/meta.js";
import { registerWebRoutes } from "../routes/web.js";
import type { KeyStore } from "../stores/keys.js";
import type { TaskStore } from "../tasks/tasks.js";
import type { IdempotencyStore } from "../stores/idempotency.js";
import { registerIdempotency } from "../routes/idempotency.js";
import { UpstreamError } from "../providers/upstream-error.js";
import type { WebhookSender } from "../tasks/webhooks.js";
import type { WebhookOutbox } from "../tasks/outbox.js";
import { registerUpstreamRoutes, type LastFailures } from "../routes/upstreams.js";
import type { UpstreamSwitches } from "../stores/upstream-switches.js";
import { PUBLIC, routeMethods, type Dialect } from "../api/route-config.js";

export interface AppDeps extends RouteDeps {
  keys: KeyStore;
  tasks: TaskStore;
  idempotency: IdempotencyStore;
  /** This gateway's instance id (async tasks and idempotency claims record it); default `local`. */
  instanceId?: string;
  /** Async tasks run here at once (TASK_CONCURRENCY); default 32. */
  taskConcurrency?: number;
  /** How often an idle task worker looks at the queue; default 500 ms. */
  taskPollMs?: number;
  /** `/ready`'s probes of the database, Redis and storage. */
  checks?: Record<string, () => Promise<void>>;
  /** Sends `?webhook_url=` callbacks from the outbox, on the retry schedule `delaysMs`; none when absent. */
  webhooks?: { sender: WebhookSender; outbox: WebhookOutbox; delaysMs?: readonly number[] };
  /** The longest a task claim can take to answer (the database's statement bound and a margin); default 10 s. */
  taskClaimBoundMs?: number;
  /** `/admin/upstreams`: the accounts switched off at run time, and each one's last failure; the routes are absent without. */
  upstreams?: { switches: UpstreamSwitches; lastFailures: LastFailures };
  fileTtlMs: number;
  /** `FILE_SERVING` (see routes/meta.ts). */
  fileServing?: "gateway" | "presigned";
  bodyLimitBytes: number;
  logger?: FastifyServerOptions["logger"];
  now?: () => number;
  /** Prometheus metrics (GET /metrics); none when absent. */
  metrics?: GatewayMetrics;
}

const unauthorized = (errCode: number, message: string, messageCn: string) =>
  new GatewayError({ status: 401, code: "AuthenticationError", message, messageCn, type: "authentication_error", errCode });

/** Fastify's own errors (bad JSON, size, media type) as the contract's envelope. */
function fromFastifyError(error: FastifyError, bodyLimit: number): GatewayError {
  switch (error.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return invalidRequest(400, "InvalidParameter", `The request body is not valid JSON (${error.message.replace(/^.*?: /, "")}).`, "请求体不是合法的 JSON。");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return invalidRequest(400, "MissingParameter", "The request body is empty; send a JSON object with Content-Type: application/json.", "请求体为空，请以 application/json 发送 JSON 对象。");
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return invalidRequest(413, "RequestTooLarge", `The request body is larger than ${bodyLimit} bytes.`, `请求体超过 ${bodyLimit} 字节的上限。`);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return invalidRequest(415, "UnsupportedMediaType", "Send the body as JSON with Content-Type: application/json.", "请以 Content-Type: application/json 发送 JSON 请求体。");
    default:
      if (error instanceof SyntaxError || (error.statusCode === 400 && /JSON/i.test(error.message))) {
        return invalidRequest(400, "InvalidParameter", `The request body is not valid JSON (${error.message}).`, "请求体不是合法的 JSON。");
      }
      if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
        return invalidRequest(error.statusCode, "InvalidRequest", error.message, "请求无效。");
      }
      return internalError();
  }
}

/** The longest wait a client's automatic retry is worth: the AI SDK honours `retry-after` under 60 s. */
const RETRY_WORTH_S = 60;

/**
 * `x-should-retry` (read by Volcengine's Python SDK and the openai SDKs, which otherwise retry every 408/409/429/5xx):
 * `false` where the same request cannot succeed soon — a refusal (4xx), the operator's account refused upstream, a
 * quota used up, a wait longer than a minute; `true` for a short wait the answer names (`Retry-After`). Other
 * failures (an upstream that failed or timed out, after the gateway's own retries) keep the client's default:
 * they charged nothing, so a client's retry never pays twice.
 */
export function retryAdvice(error: GatewayError): boolean | undefined {
  if (error.retryAfter !== undefined) return error.retryAfter <= RETRY_WORTH_S && !(error instanceof UpstreamError && error.kind === "provider");
  if (error instanceof UpstreamError) return error.kind === "transient" ? undefined : false;
  if (error.status === 503) return false;
  return error.status < 500 ? false : undefined;
}

/** Sends the one envelope; a route of the Volcengine dialect (`/doubao/drawing*`) gets the Volcengine fields as well. */
function sendError(request: FastifyRequest, reply: FastifyReply, error: GatewayError, dialect: Dialect | undefined = request.routeOptions.config.dialect): FastifyReply {
  const volcengine = dialect === "volcengine";
  reply.header("x-request-id", request.id);
  const advice = retryAdvice(error);
  if (advice !== undefined) reply.header("x-should-retry", String(advice));
  if (error.retryAfter !== undefined) {
    reply.header("retry-after", String(Math.ceil(error.retryAfter)));
    reply.header("retry-after-ms", String(Math.ceil(error.retryAfter * 1000)));
  }
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  return reply.code(error.status).send(renderError(error, request.id, volcengine));
}

/** A body past the limit is read (and dropped) up to this many bytes, or for this long, before its 413 is sent. */
const DRAIN_BYTES = 64 * 1024 * 1024;
const DRAIN_MS = 10_000;

/**
 * Reads the rest of a refused body and drops it, bounded in bytes and time, as nginx's lingering close does: a client
 * still sending when the answer arrives and the connection closes sees only EPIPE (Node's `fetch`: "fetch failed",
 * httpx: a write error), never the 413. A body past the bounds is cut off as before.
 */
function drainRequest(request: FastifyRequest): Promise<void> {
  const raw = request.raw;
  if (raw.complete || raw.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let read = 0;
    const finish = () => {
      clearTimeout(timer);
      raw.off("data", onData).off("end", finish).off("error", finish).off("close", finish);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      read += chunk.length;
      if (read > DRAIN_BYTES) finish();
    };
    const timer = setTimeout(finish, DRAIN_MS);
    timer.unref();
    raw.on("data", onData).once("end", finish).once("error", finish).once("close", finish);
    raw.resume();
  });
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: deps.bodyLimitBytes,
    genReqId: () => newRequestId(),
    requestIdHeader: false,
    // One line per request (below), not Fastify's two: the log stays readable, and the start banner is not buried.
    logController: new LogController({ disableRequestLogging: true }),
  });

  app.decorateRequest("apiKey", null);
  app.decorateRequest("modelId", null);
  // Known only to this process: a request carrying it is the task worker's own run of a queued task.
  const taskToken = randomBytes(24).toString("base64url");
  const isTaskRun = (value: unknown) => typeof value === "string" && value.length === taskToken.length && timingSafeEqual(Buffer.from(value), Buffer.from(taskToken));
  // JSON only: a text/plain body would otherwise arrive as a string and get a less helpful answer.
  app.removeContentTypeParser("text/plain");
  // JSON is parsed here rather than by Fastify's parser: an empty body is no body (a DELETE or POST …/disable sent with
  // Content-Type: application/json and nothing else), and a `__proto__` key is valid JSON that is dropped, not an error.
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === "") return done(null, undefined);
    try {
      // The reviver (a call per value) only for a body that can hold the key: most bodies parse at full speed.
      done(null, text.includes("__proto__") ? JSON.parse(text, (key, value: unknown) => (key === "__proto__" ? undefined : value)) : JSON.parse(text));
    } catch (error) {
      done(Object.assign(error as Error, { statusCode: 400 }), undefined);
    }
  });

  // Every route as it is added: what a path answers to, for the 405 that names the methods it has.
  const methods = routeMethods(app);
  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
    const route = request.routeOptions.url;
    if (route === undefined || request.routeOptions.config.public === true) return;
    // A queued task run by this process: its key by id (the client's secret is never stored with the task).
    const taskKey = request.headers[TASK_KEY_HEADER];
    if (typeof taskKey === "string" && isTaskRun(request.headers[TASK_TOKEN_HEADER])) {
      const checked = await deps.keys.checkId(taskKey, (deps.now ?? Date.now)());
      if (!checked.ok) throw keyRefused(checked.reason, checked.record?.expiresAt);
      request.apiKey = checked.record;
      return;
    }
    const header = request.headers.authorization;
    if (!header) {
      throw unauthorized(ErrCode.noKey, "Missing API key: send the header Authorization: Bearer <key>.", "缺少 API Key：请发送请求头 Authorization: Bearer <key>。");
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const checked = match?.[1] ? await deps.keys.check(match[1], (deps.now ?? Date.now)()) : undefined;
    if (!checked?.ok) throw keyRefused(checked?.reason ?? "unknown", checked?.record?.expiresAt);
    if (route.startsWith("/admin/") && checked.record.role !== "admin") throw adminOnly();
    request.apiKey = checked.record;
  });

  // While shutting down, answers close their connections: a keep-alive client must not hold the server open once its
  // request in flight has been answered (server.close() ends only the connections that were idle when it was called).
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  // The hooks every request runs take `done` rather than being async: no promise and no microtask turn each.
  app.addHook("onSend", (_request, reply, payload, done) => {
    if (closing) reply.header("connection", "close");
    done(null, payload);
  });

  app.addHook("onResponse", (request, reply, done) => {
    const provider = reply.getHeader("x-gateway-provider");
    // The scrape itself is not counted: what /metrics shows does not depend on when it was read.
    if (deps.metrics && request.routeOptions.url !== "/metrics") {
      const route = request.routeOptions.url ?? "unmatched";
      deps.metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
      deps.metrics.requestSeconds.observe({ route }, reply.elapsedTime / 1000);
    }
    request.log.info(
      {
        method: request.method, url: request.url.split("?")[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime),
        ...(request.apiKey ? { key: request.apiKey.id } : {}), ...(request.modelId ? { model: request.modelId } : {}), ...(provider ? { provider } : {}),
      },
      "request",
    );
    done();
  });

  app.setErrorHandler((error: FastifyError | GatewayError, request, reply) => {
    const gatewayError = error instanceof GatewayError ? error : fromFastifyError(error, deps.bodyLimitBytes);
    if (gatewayError.status >= 500 && !(error instanceof GatewayError)) request.log.error({ err: error }, "unhandled error");
    else if (gatewayError.status >= 500) request.log.warn({ code: gatewayError.code, status: gatewayError.status }, gatewayError.message);
    if (gatewayError.status === 413) {
      // The rest of the body is read first, then the connection closed after the answer (it may still hold unread bytes).
      reply.header("connection", "close");
      return drainRequest(request).then(() => sendError(request, reply, gatewayError));
    }
    return sendError(request, reply, gatewayError);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] ?? "";
    const allowed = methods.allowed(path);
    const error = allowed
      ? invalidRequest(405, "MethodNotAllowed", `${request.method} is not allowed on ${path}; use ${allowed.methods}.`, `${path} 不支持 ${request.method}，请使用 ${allowed.methods}。`, { allow: allowed.methods })
      : invalidRequest(404, "NotFound", `No route ${request.method} ${path.slice(0, 200)}.`, `不存在的接口 ${request.method} ${path.slice(0, 200)}。`);
    return sendError(request, reply, error, allowed?.dialect);
  });

  // Idempotency wraps async: a replayed ?async=true request gets the same task id.
  registerIdempotency(app, { store: deps.idempotency, bodyLimitBytes: deps.bodyLimitBytes, now: deps.now ?? Date.now, durable: deps.accounts.durable, ...(deps.instanceId ? { instanceId: deps.instanceId } : {}) });
  registerAsync(app, {
    tasks: deps.tasks, bodyLimitBytes: deps.bodyLimitBytes, now: deps.now ?? Date.now, instanceId: deps.instanceId ?? "local", taskToken, durable: deps.accounts.durable,
    ...(deps.taskClaimBoundMs !== undefined ? { claimBoundMs: deps.taskClaimBoundMs } : {}),
    ...(deps.taskConcurrency !== undefined ? { concurrency: deps.taskConcurrency } : {}), ...(deps.taskPollMs !== undefined ? { pollMs: deps.taskPollMs } : {}),
    ...(deps.webhooks ? { webhooks: deps.webhooks, webhookSecret: (keyId: string) => deps.keys.webhookSecret(keyId) } : {}),
    ...(deps.metrics ? { onTaskFinished: (outcome: "succeeded" | "failed", seconds: number) => deps.metrics?.taskSeconds.observe({ outcome }, seconds) } : {}),
  });
  // The calling key's webhook signing secret (made on first use), to verify `webhook-signature`.
  app.get("/v1/webhook_secret", async (request) => ({ secret: await deps.keys.webhookSecret((request.apiKey as { id: string }).id) }));
  registerImageRoutes(app, deps);
  // Multipart parsing lives in its own scope, so JSON routes never accept form bodies.
  void app.register(async (scope) => registerEditRoutes(scope, deps));
  registerDrawingRoutes(app, deps);
  registerAccountRoutes(app, { keys: deps.keys, accounts: deps.accounts });
  if (deps.upstreams) registerUpstreamRoutes(app, { router: deps.router, resilience: deps.resilience, ...deps.upstreams, now: deps.now ?? Date.now });
  if (deps.metrics) {
    const metrics = deps.metrics;
    app.get("/metrics", PUBLIC, async (_request, reply) => {
      for (const provider of deps.router.providers) metrics.breakerState.set({ provider: provider.id }, BREAKER_VALUES[deps.resilience.breaker(provider.id).state]);
      metrics.journalWaiting.set(deps.accounts.durable.size);
      // The task gauges keep their last values while the database is away: the rest of the metrics matter most then.
      const counts = await deps.tasks.counts().catch(() => undefined);
      if (counts) {
        metrics.tasksPending.set(counts.queued + counts.running);
        metrics.tasks.set({ state: "queued" }, counts.queued);
        metrics.tasks.set({ state: "running" }, counts.running);
      }
      return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });
  }
  registerWebRoutes(app);
  registerMetaRoutes(app, { router: deps.router, storage: deps.storage, fileTtlMs: deps.fileTtlMs, ...(deps.fileServing ? { fileServing: deps.fileServing } : {}), publicBaseUrl: deps.publicBaseUrl, currency: deps.accounts.options.prices.currency, resilience: deps.resilience, ...(deps.checks ? { checks: deps.checks } : {}), ...(deps.now ? { now: deps.now } : {}) });
  return app;
}

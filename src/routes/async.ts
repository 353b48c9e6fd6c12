/**
 * `?async=true` on every generation endpoint, and `GET /async_result?task_id=` (alias `/v1/async_result`),
 * as CONTRACT.md §1 and 302.AI's clients have them. The submit answers 202 `{task_id}` at once and queues the
 * request in the database (tasks/tasks.ts); whichever instance's worker claims it makes it exactly as the synchronous
 * call (same headers and body, through the same routes, limits and ledger), and its status and body are kept for the
 * poll.
 */
import type { TaskObject } from "@doubao-gateway/sdk";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { asksForStream, onAsyncRoutePost, readBody, replayHeaders, TASK_KEY_HEADER, TASK_TOKEN_HEADER } from "../pipeline/replay.js";
import { ErrCode, GatewayError, invalidParameter, invalidRequest, isPartUnavailable, renderError } from "../errors/errors.js";
import { newRequestId } from "../process/request-id.js";
import type { DurableWrites } from "../stores/durable.js";
import { createWebhookDispatcher, type AttemptOutcome, type WebhookOutbox } from "../tasks/outbox.js";
import type { TaskResult, TaskStore } from "../tasks/tasks.js";
import { createTaskWorker, FINISH_WRITE } from "../tasks/worker.js";
import type { WebhookSender } from "../tasks/webhooks.js";

/** Durable write kinds of a submission: its task made claimable once its client has the id, or deleted when it could not be told. */
const QUEUE_WRITE = "task.queue";
const CANCEL_WRITE = "task.cancel";
/** The durable write of a webhook attempt's outcome. */
const ATTEMPT_WRITE = "webhook.attempted";

export interface AsyncDeps {
  tasks: TaskStore;
  /** Recorded on each task this instance claims, so that another instance's recovery leaves it alone while it runs. */
  instanceId: string;
  /** Signed callbacks for `?webhook_url=`, sent from the outbox; the key's secret comes from `webhookSecret`. */
  webhooks?: { sender: WebhookSender; outbox: WebhookOutbox; delaysMs?: readonly number[] };
  webhookSecret?: (keyId: string) => Promise<string>;
  /** Where a task's queueing, cancel or finish waits while the database is away. */
  durable: DurableWrites;
  /** How long a claim can take to answer at most (the database's statement bound and a margin). */
  claimBoundMs?: number;
  bodyLimitBytes: number;
  now: () => number;
  /** Tasks this instance runs at once (TASK_CONCURRENCY); default 32. */
  concurrency?: number;
  /** How often an idle worker looks for queued tasks; default 500 ms. */
  pollMs?: number;
  /** Proves to the auth hook that a request is this process's own run of a task (its key named by `x-gateway-task-key`). */
  taskToken: string;
  onTaskFinished?: (outcome: "succeeded" | "failed", seconds: number) => void;
}

/** The result a task gets when its process died before it finished (start-up recovery). */
export function interruptedResult(id: string) {
  const error = new GatewayError({
    status: 500, code: "Interrupted", type: "server_error", errCode: ErrCode.noUpstream,
    message: "The gateway restarted before this task finished; it was not charged. Submit it again.",
    messageCn: "网关在任务完成前重启，该任务未计费，请重新提交。",
  });
  return { statusCode: 500, contentType: "application/json; charset=utf-8", data: JSON.stringify(renderError(error, id, false)) };
}

export function registerAsync(app: FastifyInstance, deps: AsyncDeps): void {
  // After the auth hook (registered before this one): only a valid key gets a task. A request without a query string
  // is not one, and passes on without a URL parse.
  app.addHook("onRequest", onAsyncRoutePost((request) => request.url.includes("?"), (request, reply) => submitTask(request, reply)));
  const submitTask = async (request: FastifyRequest, reply: FastifyReply) => {
    const url = new URL(request.url, "http://gateway.local");
    if (url.searchParams.get("async") !== "true") return;
    const key = request.apiKey;
    if (!key) return;
    const payload = await readBody(request, deps.bodyLimitBytes);
    if (asksForStream(payload)) {
      throw invalidParameter("stream", "Invalid parameter `stream`: a streamed answer cannot be an async task; send stream: true without ?async=true, or ?async=true without stream.");
    }
    url.searchParams.delete("async");
    // The request's own webhook_url, else the key's default one.
    const webhookUrl = url.searchParams.get("webhook_url") ?? key.webhookUrl ?? undefined;
    url.searchParams.delete("webhook_url");
    if (webhookUrl !== undefined) {
      let parsed: URL | undefined;
      try {
        parsed = new URL(webhookUrl);
      } catch {
        parsed = undefined;
      }
      if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:") || webhookUrl.length > 2048 || !deps.webhooks) {
        throw invalidParameter("webhook_url", "Invalid parameter `webhook_url`: must be an http(s) URL of at most 2048 characters.", "参数 `webhook_url` 无效：必须是不超过 2048 个字符的 http(s) URL。");
      }
    }
    // Stored without the client's credentials: the run names the key by id instead.
    const headers = replayHeaders(request, ["authorization"]);
    const taskId = newRequestId();
    try {
      await deps.tasks.enqueue({ id: taskId, keyId: key.id, now: deps.now(), instanceId: deps.instanceId, request: { url: `${url.pathname}${url.search}`, headers, body: payload, webhookUrl: webhookUrl ?? null } });
    } catch (error) {
      // The insert may have landed with its reply lost: the task is still pending, never claimable; it is deleted
      // (now, or when the database is back), since this client is not told its id.
      if (isPartUnavailable(error)) await deps.durable.perform(CANCEL_WRITE, taskId, {}).catch(() => undefined);
      throw error;
    }
    // The client gets its id whatever happens next: if the database went away just now, the task is queued when it is back.
    await deps.durable.perform(QUEUE_WRITE, taskId, {});
    worker.wake();
    return reply.code(202).send({ task_id: taskId });
  };

  deps.durable.register(QUEUE_WRITE, (id) => deps.tasks.queue(id).then(() => worker.wake()));
  deps.durable.register(CANCEL_WRITE, (id) => deps.tasks.cancel(id));
  deps.durable.register(FINISH_WRITE, async (id, payload) => {
    await deps.tasks.finish(id, payload.result as TaskResult, payload.now as number, payload.webhook === true);
    if (payload.webhook === true) dispatcher?.wake();
  });
  const { webhooks, webhookSecret } = deps;
  if (webhooks) {
    deps.durable.register(ATTEMPT_WRITE, (id, payload) => webhooks.outbox.attempted(id, deps.instanceId, payload as unknown as AttemptOutcome));
  }
  const dispatcher = webhooks && webhookSecret
    ? createWebhookDispatcher({
        outbox: webhooks.outbox, sender: webhooks.sender, secretOf: webhookSecret, instanceId: deps.instanceId, now: deps.now,
        record: async (taskId, outcome) => void (await deps.durable.perform(ATTEMPT_WRITE, taskId, { ...outcome })), held: (taskId) => deps.durable.holds(taskId),
        ...(webhooks.delaysMs ? { delaysMs: webhooks.delaysMs } : {}), ...(deps.pollMs !== undefined ? { pollMs: deps.pollMs } : {}),
        log: { warn: (object, message) => app.log.warn(object, message) },
      })
    : undefined;

  // The queue's worker: any instance runs any task, through the same routes, limits and ledger as a synchronous call.
  const worker = createTaskWorker({
    tasks: deps.tasks, instanceId: deps.instanceId, concurrency: deps.concurrency ?? 32, now: deps.now, ...(deps.pollMs !== undefined ? { pollMs: deps.pollMs } : {}),
    ...(deps.claimBoundMs !== undefined ? { claimBoundMs: deps.claimBoundMs } : {}), held: (id) => deps.durable.holds(id),
    finish: async (task, result) => void (await deps.durable.perform(FINISH_WRITE, task.id, { result, now: deps.now(), webhook: Boolean(task.request.webhookUrl) })),
    run: async (task) => {
      const response = await app.inject({
        method: "POST", url: task.request.url, payload: task.request.body,
        headers: { ...task.request.headers, [TASK_TOKEN_HEADER]: deps.taskToken, [TASK_KEY_HEADER]: task.keyId },
      });
      return { statusCode: response.statusCode, contentType: String(response.headers["content-type"] ?? "application/json"), data: response.body };
    },
    failed: (task, error) => {
      app.log.error({ err: error, taskId: task.id }, "async task failed to run");
      return interruptedResult(task.id);
    },
    onFinished: (_task, result, seconds) => deps.onTaskFinished?.(result.statusCode < 400 ? "succeeded" : "failed", seconds),
    onError: (error) => app.log.error({ err: error }, "async task queue failed"),
  });
  app.addHook("onReady", async () => {
    worker.start();
    dispatcher?.start();
  });
  // Stop claiming as the server stops accepting; the tasks running here finish before close resolves (and the
  // webhooks being sent; those due later wait in the outbox for any gateway).
  let stopped: Promise<void> | undefined;
  app.addHook("preClose", async () => void (stopped = worker.stop()));
  app.addHook("onClose", async () => {
    await (stopped ?? worker.stop());
    await dispatcher?.stop();
  });

  const poll = async (request: FastifyRequest) => {
    const taskId = (request.query as { task_id?: unknown }).task_id;
    if (typeof taskId !== "string" || taskId === "") throw invalidParameter("task_id", "Missing required parameter `task_id`.", "缺少必需参数 task_id。", "MissingParameter");
    const task = await deps.tasks.get(taskId);
    if (!task || task.keyId !== request.apiKey?.id) {
      throw invalidRequest(404, "NotFound", `No task ${taskId.slice(0, 64)} belongs to this API key (tasks are kept as long as result files).`, `该 API Key 下不存在任务 ${taskId.slice(0, 64)}。`);
    }
    if (!task.result) return { status_code: 202, err: "result pending" };
    return { status_code: task.result.statusCode, content_type: task.result.contentType, data: task.result.data, err: "" };
  };
  app.get("/async_result", poll);
  app.get("/v1/async_result", poll);

  // The task itself: its state, timestamps and, once done, the answer (parsed) the synchronous call would have had.
  app.get("/v1/tasks/:id", async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const task = await deps.tasks.get(request.params.id);
    if (!task || task.keyId !== request.apiKey?.id) {
      throw invalidRequest(404, "NotFound", `No task ${request.params.id.slice(0, 64)} belongs to this API key (tasks are kept as long as result files).`, `该 API Key 下不存在任务 ${request.params.id.slice(0, 64)}。`);
    }
    const iso = (at: number | undefined) => (at === undefined ? null : new Date(at).toISOString());
    const result = task.result;
    let body: unknown = null;
    if (result) {
      try {
        body = JSON.parse(result.data);
      } catch {
        body = result.data;
      }
    }
    const answer: TaskObject = {
      id: task.id, object: "task",
      status: !result ? (task.state === "running" ? "running" : "queued") : result.statusCode < 400 ? "succeeded" : "failed",
      created_at: new Date(task.createdAt).toISOString(), finished_at: iso(task.finishedAt),
      ...(result ? { status_code: result.statusCode, result: result.statusCode < 400 ? body : null, error: result.statusCode >= 400 ? ((body as { error?: unknown } | null)?.error ?? body) : null } : {}),
    };
    return answer;
  });
}

/**
 * Async tasks (`?async=true`, CONTRACT.md §1), and the queue they run from: a task is stored `queued` with the
 * request it will make (its URL, headers less the API key, and body), claimed by one instance's worker
 * (`running`), and finished with the status and body the synchronous call would have had, kept until the client
 * fetches it at `/async_result` or `/v1/tasks/{id}`. The queue is the database itself — the same rows the poll
 * reads — so a queued task survives any restart and is run by whichever instance claims it first; a claim is one
 * conditional UPDATE (with `FOR UPDATE SKIP LOCKED` on PostgreSQL), so no two instances run the same task.
 * A task belongs to the key that made it.
 */
import type { SqlDatabase, SqlRunner, SqlValue } from "../stores/sql/types.js";
import { OUTBOX_INSERT } from "./outbox.js";
import { taskCompletedBody } from "./webhooks.js";

export interface TaskResult {
  statusCode: number;
  contentType: string;
  /** The body, as the synchronous call would have sent it. */
  data: string;
}

/** The request a task makes when it runs: what the client sent, without `?async` and without its credentials. */
export interface QueuedRequest {
  url: string;
  headers: Record<string, string>;
  body: Buffer;
  /** Where the result is reported (the request's `webhook_url`, else its key's); none when null. */
  webhookUrl: string | null;
}

/**
 * `pending`: stored, but not yet claimable — a submission becomes `queued` only after its client could be told its id,
 * so a submission whose insert's reply was lost (the client got an error) is deleted, never run.
 */
export type TaskState = "pending" | "queued" | "running" | "done";

export interface Task {
  id: string;
  keyId: string;
  state: TaskState;
  createdAt: number;
  startedAt: number | undefined;
  /** When its result was kept; undefined until then. */
  finishedAt: number | undefined;
  result: TaskResult | undefined;
}

/** A task as its worker gets it: with the request it is to make. */
export type ClaimedTask = Task & { request: QueuedRequest };

export interface TaskStore {
  /** Stores a task `pending` (not claimable), made by `instanceId`. */
  enqueue(task: { id: string; keyId: string; now: number; request: QueuedRequest; instanceId: string }): Promise<void>;
  /** A pending task becomes claimable (idempotent). */
  queue(id: string): Promise<void>;
  /** A pending task whose submission failed is deleted (idempotent; one already queued is left). */
  cancel(id: string): Promise<void>;
  /** The oldest queued task, now `running` on `instanceId`; undefined when none is queued. */
  claim(instanceId: string, now: number): Promise<ClaimedTask | undefined>;
  /**
   * Keeps the result of a task not yet finished, and — in the same transaction, when `webhook` (the task has a
   * webhook_url) — puts its message in the outbox; resolves to whether this call finished it.
   */
  finish(id: string, result: TaskResult, now: number, webhook?: boolean): Promise<boolean>;
  /**
   * Puts back in the queue the tasks marked running on `instanceId` since before `startedBefore` that its worker does
   * not account for (`known`: running, or its finish waiting): claims whose reply was lost, never run. Resolves to how many.
   */
  requeueOwn(instanceId: string, startedBefore: number, known: (id: string) => boolean): Promise<number>;
  get(id: string): Promise<Task | undefined>;
  /**
   * Finishes with `result` the running tasks whose instance is not alive (and this instance's own from before
   * `own.startedAt`): they may have reached the upstream, so they are failed, never run a second time.
   */
  interruptRunning(result: (id: string) => TaskResult, now: number, alive?: (instanceId: string | null) => Promise<boolean>, own?: { id: string; startedAt: number }): Promise<number>;
  /** Deletes the tasks created before `cutoff` (as long as result files are kept); returns how many. */
  sweep(cutoff: number): Promise<number>;
  /** Tasks waiting to be claimed, and running. */
  counts(): Promise<{ queued: number; running: number }>;
}

interface Row {
  id: string;
  key_id: string;
  state: TaskState;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  status_code: number | null;
  content_type: string | null;
  data: string | null;
  request_url: string | null;
  request_headers: string | null;
  request_body: Buffer | null;
  webhook_url: string | null;
}

/** Creates the table, or adds what an older version's lacks (its unfinished tasks read as running). */
export async function migrateTasks(database: SqlRunner): Promise<void> {
  await database.exec(`CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    status_code INTEGER,
    content_type TEXT,
    data TEXT
  );
  CREATE INDEX IF NOT EXISTS tasks_created ON tasks (created_at);`);
  const columns = await database.columns("tasks");
  const added: Array<[string, string]> = [
    ["instance_id", "TEXT"], ["state", "TEXT"], ["started_at", "INTEGER"], ["request_url", "TEXT"], ["request_headers", "TEXT"], ["request_body", "BLOB"], ["webhook_url", "TEXT"],
  ];
  for (const [name, definition] of added) if (!columns.has(name)) await database.exec(`ALTER TABLE tasks ADD COLUMN ${name} ${definition}`);
  if (!columns.has("state")) await database.exec("UPDATE tasks SET state = CASE WHEN finished_at IS NULL THEN 'running' ELSE 'done' END");
  await database.exec("CREATE INDEX IF NOT EXISTS tasks_queued ON tasks (created_at) WHERE state = 'queued'");
  await database.exec("CREATE INDEX IF NOT EXISTS tasks_unfinished ON tasks (instance_id) WHERE state IN ('pending', 'running')");
}

const toTask = (row: Row): Task => ({
  id: row.id, keyId: row.key_id, state: row.state, createdAt: row.created_at,
  startedAt: row.started_at ?? undefined, finishedAt: row.finished_at ?? undefined,
  result: row.status_code === null ? undefined : { statusCode: row.status_code, contentType: row.content_type ?? "application/json", data: row.data ?? "" },
});

export function createTaskStore(database: SqlDatabase): TaskStore {
  const FINISH = "UPDATE tasks SET state = 'done', finished_at = ?, status_code = ?, content_type = ?, data = ?, request_body = NULL, request_headers = NULL WHERE id = ? AND state <> 'done'";
  // The message goes in first, conditioned on the task not yet done; the finish after it in the same transaction.
  const finishWith = async (id: string, result: TaskResult, now: number, webhook: boolean) => {
    const finish: readonly [string, SqlValue[]] = [FINISH, [now, result.statusCode, result.contentType, result.data, id]];
    if (!webhook) return (await database.run(...finish)) > 0;
    const [, finished] = await database.batch([[OUTBOX_INSERT, [taskCompletedBody(id, result, now), now, now, id]], finish]);
    return (finished ?? 0) > 0;
  };
  const CLAIM = `UPDATE tasks SET state = 'running', instance_id = ?, started_at = ?
     WHERE id = (SELECT id FROM tasks WHERE state = 'queued' ORDER BY created_at LIMIT 1${database.dialect === "postgres" ? " FOR UPDATE SKIP LOCKED" : ""}) AND state = 'queued'
     RETURNING *`;
  return {
    async enqueue({ id, keyId, now, request, instanceId }) {
      await database.run(
        "INSERT INTO tasks (id, key_id, state, instance_id, created_at, request_url, request_headers, request_body, webhook_url) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?)",
        [id, keyId, instanceId, now, request.url, JSON.stringify(request.headers), request.body, request.webhookUrl],
      );
    },
    queue: async (id) => void (await database.run("UPDATE tasks SET state = 'queued' WHERE id = ? AND state = 'pending'", [id])),
    cancel: async (id) => void (await database.run("DELETE FROM tasks WHERE id = ? AND state = 'pending'", [id])),
    async claim(instanceId, now) {
      const [row] = await database.all<Row>(CLAIM, [instanceId, now]);
      if (!row) return undefined;
      const request: QueuedRequest = {
        url: row.request_url ?? "", headers: JSON.parse(row.request_headers ?? "{}") as Record<string, string>, body: row.request_body ?? Buffer.alloc(0), webhookUrl: row.webhook_url,
      };
      return { ...toTask(row), request };
    },
    finish: (id, result, now, webhook = false) => finishWith(id, result, now, webhook),
    async requeueOwn(instanceId, startedBefore, known) {
      const rows = await database.all<{ id: string; started_at: number }>("SELECT id, started_at FROM tasks WHERE state = 'running' AND instance_id = ? AND started_at < ?", [instanceId, startedBefore]);
      let requeued = 0;
      for (const row of rows) {
        if (known(row.id)) continue;
        requeued += await database.run("UPDATE tasks SET state = 'queued' WHERE id = ? AND state = 'running' AND instance_id = ? AND started_at = ?", [row.id, instanceId, row.started_at]);
      }
      return requeued;
    },
    async get(id) {
      const row = await database.get<Row>("SELECT id, key_id, state, created_at, started_at, finished_at, status_code, content_type, data FROM tasks WHERE id = ?", [id]);
      return row ? toTask(row) : undefined;
    },
    async interruptRunning(result, now, alive = async () => false, own) {
      // Pending ones too: a dead instance's submission may or may not have reached its client, and is never run.
      const running = await database.all<{ id: string; instance_id: string | null; started_at: number | null; created_at: number; webhook_url: string | null }>(
        "SELECT id, instance_id, started_at, created_at, webhook_url FROM tasks WHERE state IN ('running', 'pending')",
      );
      let interrupted = 0;
      for (const row of running) {
        const dead = own && row.instance_id === own.id ? (row.started_at ?? row.created_at) < own.startedAt : !(await alive(row.instance_id));
        if (!dead) continue;
        if (await finishWith(row.id, result(row.id), now, Boolean(row.webhook_url))) interrupted += 1;
      }
      return interrupted;
    },
    sweep: (cutoff) => database.run("DELETE FROM tasks WHERE created_at < ?", [cutoff]),
    async counts() {
      const rows = await database.all<{ state: string; n: number }>("SELECT state, COUNT(*) AS n FROM tasks WHERE state IN ('pending', 'queued', 'running') GROUP BY state");
      const of = (state: string) => rows.find((row) => row.state === state)?.n ?? 0;
      return { queued: of("pending") + of("queued"), running: of("running") };
    },
  };
}

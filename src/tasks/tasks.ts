/**
 * Async tasks (`?async=true`, CONTRACT.md §1): a generation request answered at once with a task id and
 * run in the background; its result — the status and body the synchronous call would have had — is kept
 * here until the client fetches it at `/async_result`. A task belongs to the key that made it.
 */
import type { Database } from "better-sqlite3";

export interface TaskResult {
  statusCode: number;
  contentType: string;
  /** The body, as the synchronous call would have sent it. */
  data: string;
}

export interface Task {
  id: string;
  keyId: string;
  createdAt: number;
  /** When its result was kept; undefined while it runs. */
  finishedAt: number | undefined;
  result: TaskResult | undefined;
}

export interface TaskStore {
  create(id: string, keyId: string, now: number, instanceId?: string): void;
  finish(id: string, result: TaskResult, now: number): void;
  get(id: string): Task | undefined;
  /** Tasks still pending (their process died): finished with `result`; returns how many. */
  /** Finishes as interrupted the pending tasks whose instance is not alive (and this instance's from before `startedAt`). */
  interruptPending(result: (id: string) => TaskResult, now: number, alive?: (instanceId: string | null) => boolean, own?: { id: string; startedAt: number }): number;
  /** Deletes tasks created before `cutoff`; returns how many. */
  sweep(cutoff: number): number;
  /** How many tasks are submitted and not finished. */
  pendingCount(): number;
}

interface Row {
  id: string;
  key_id: string;
  created_at: number;
  finished_at: number | null;
  status_code: number | null;
  content_type: string | null;
  data: string | null;
}

export function createTaskStore(database: Database): TaskStore {
  database.exec(`CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    status_code INTEGER,
    content_type TEXT,
    data TEXT
  );
  CREATE INDEX IF NOT EXISTS tasks_created ON tasks (created_at);`);
  const columns = new Set(database.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('tasks')").all().map((column) => column.name));
  if (!columns.has("instance_id")) database.exec("ALTER TABLE tasks ADD COLUMN instance_id TEXT");
  const insert = database.prepare("INSERT INTO tasks (id, key_id, created_at, instance_id) VALUES (?, ?, ?, ?)");
  const finish = database.prepare("UPDATE tasks SET finished_at = ?, status_code = ?, content_type = ?, data = ? WHERE id = ? AND finished_at IS NULL");
  const byId = database.prepare<[string], Row>("SELECT * FROM tasks WHERE id = ?");
  const pending = database.prepare<[], { id: string; instance_id: string | null; created_at: number }>("SELECT id, instance_id, created_at FROM tasks WHERE finished_at IS NULL");
  const sweep = database.prepare("DELETE FROM tasks WHERE created_at < ?");
  const countPending = database.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM tasks WHERE finished_at IS NULL");
  return {
    create: (id, keyId, now, instanceId) => void insert.run(id, keyId, now, instanceId ?? null),
    finish: (id, result, now) => void finish.run(now, result.statusCode, result.contentType, result.data, id),
    get(id) {
      const row = byId.get(id);
      if (!row) return undefined;
      const result = row.status_code === null ? undefined : { statusCode: row.status_code, contentType: row.content_type ?? "application/json", data: row.data ?? "" };
      return { id: row.id, keyId: row.key_id, createdAt: row.created_at, finishedAt: row.finished_at ?? undefined, result };
    },
    interruptPending(result, now, alive = () => false, own) {
      const ids = pending.all()
        .filter((row) => (own && row.instance_id === own.id ? row.created_at < own.startedAt : !alive(row.instance_id)))
        .map((row) => row.id);
      for (const id of ids) {
        const value = result(id);
        finish.run(now, value.statusCode, value.contentType, value.data, id);
      }
      return ids.length;
    },
    sweep: (cutoff) => sweep.run(cutoff).changes,
    pendingCount: () => countPending.get()?.n ?? 0,
  };
}

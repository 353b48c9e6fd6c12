/**
 * `Idempotency-Key` records: for 24 h, a key's (API key, Idempotency-Key) pair remembers the request's body hash
 * and, once answered, its status and body — so a retried request gets the same answer and never a second upstream
 * call. A record left `in_progress` by an instance that died is dropped with the rest of its unfinished work (its
 * request was settled uncharged by recovery, so running it again delivers what was never delivered).
 */
import type { Database } from "better-sqlite3";

export interface IdempotentAnswer {
  statusCode: number;
  contentType: string;
  headers: Record<string, string>;
  body: string;
}

export type IdempotencyRecord = { bodyHash: string; createdAt: number } & ({ state: "in_progress" } | { state: "done"; answer: IdempotentAnswer });

export interface IdempotencyStore {
  /** The live record (younger than `since`), if any. */
  get(keyId: string, idempotencyKey: string, since: number): IdempotencyRecord | undefined;
  /** Claims the pair for a new request; false when another request holds it (a live record exists). */
  begin(keyId: string, idempotencyKey: string, bodyHash: string, now: number, since: number, instanceId?: string): boolean;
  finish(keyId: string, idempotencyKey: string, answer: IdempotentAnswer): void;
  /** Forgets the pair (an answer not worth replaying: a 5xx or a 429 — a retry should run again). */
  release(keyId: string, idempotencyKey: string): void;
  /** Drops records older than `cutoff`. */
  sweep(cutoff: number): number;
  /** Drops the `in_progress` records whose instance is not alive (their request will never be answered). */
  dropInterrupted(alive: (instanceId: string | null, createdAt: number) => boolean): number;
}

interface Row {
  body_hash: string;
  state: "in_progress" | "done";
  status_code: number | null;
  content_type: string | null;
  headers: string | null;
  body: string | null;
  created_at: number;
}

export function createIdempotencyStore(database: Database): IdempotencyStore {
  database.exec(`CREATE TABLE IF NOT EXISTS idempotency (
    key_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
    status_code INTEGER,
    content_type TEXT,
    headers TEXT,
    body TEXT,
    created_at INTEGER NOT NULL,
    instance_id TEXT,
    PRIMARY KEY (key_id, idempotency_key)
  );
  CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency (created_at);`);
  const columns = new Set(database.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('idempotency')").all().map((column) => column.name));
  if (!columns.has("instance_id")) database.exec("ALTER TABLE idempotency ADD COLUMN instance_id TEXT");
  const select = database.prepare<[string, string], Row>("SELECT * FROM idempotency WHERE key_id = ? AND idempotency_key = ?");
  const remove = database.prepare("DELETE FROM idempotency WHERE key_id = ? AND idempotency_key = ?");
  const insert = database.prepare("INSERT INTO idempotency (key_id, idempotency_key, body_hash, state, created_at, instance_id) VALUES (?, ?, ?, 'in_progress', ?, ?)");
  const complete = database.prepare("UPDATE idempotency SET state = 'done', status_code = ?, content_type = ?, headers = ?, body = ? WHERE key_id = ? AND idempotency_key = ?");
  const old = database.prepare("DELETE FROM idempotency WHERE created_at < ?");
  const unfinished = database.prepare<[], { key_id: string; idempotency_key: string; instance_id: string | null; created_at: number }>(
    "SELECT key_id, idempotency_key, instance_id, created_at FROM idempotency WHERE state = 'in_progress'",
  );
  const toRecord = (row: Row): IdempotencyRecord =>
    row.state === "in_progress"
      ? { state: "in_progress", bodyHash: row.body_hash, createdAt: row.created_at }
      : {
          state: "done", bodyHash: row.body_hash, createdAt: row.created_at,
          answer: { statusCode: row.status_code ?? 200, contentType: row.content_type ?? "application/json", headers: JSON.parse(row.headers ?? "{}") as Record<string, string>, body: row.body ?? "" },
        };
  const claim = database.transaction((keyId: string, idempotencyKey: string, bodyHash: string, now: number, since: number, instanceId: string | null) => {
    const row = select.get(keyId, idempotencyKey);
    if (row && row.created_at >= since) return false;
    if (row) remove.run(keyId, idempotencyKey);
    insert.run(keyId, idempotencyKey, bodyHash, now, instanceId);
    return true;
  });
  return {
    get(keyId, idempotencyKey, since) {
      const row = select.get(keyId, idempotencyKey);
      return row && row.created_at >= since ? toRecord(row) : undefined;
    },
    begin: (keyId, idempotencyKey, bodyHash, now, since, instanceId) => claim.immediate(keyId, idempotencyKey, bodyHash, now, since, instanceId ?? null),
    finish(keyId, idempotencyKey, answer) {
      complete.run(answer.statusCode, answer.contentType, JSON.stringify(answer.headers), answer.body, keyId, idempotencyKey);
    },
    release: (keyId, idempotencyKey) => void remove.run(keyId, idempotencyKey),
    sweep: (cutoff) => old.run(cutoff).changes,
    dropInterrupted(alive) {
      const gone = unfinished.all().filter((row) => !alive(row.instance_id, row.created_at));
      for (const row of gone) remove.run(row.key_id, row.idempotency_key);
      return gone.length;
    },
  };
}

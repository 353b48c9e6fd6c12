/**
 * `Idempotency-Key` records: for 24 h, a key's (API key, Idempotency-Key) pair remembers the request's body hash
 * and, once answered, its status and body — so a retried request gets the same answer and never a second upstream
 * call. A record left `in_progress` by an instance that died is dropped with the rest of its unfinished work (its
 * request was settled uncharged by recovery, so running it again delivers what was never delivered).
 */
import type { SqlDatabase, SqlRunner } from "./sql/types.js";

export interface IdempotentAnswer {
  statusCode: number;
  contentType: string;
  headers: Record<string, string>;
  body: string;
}

export type IdempotencyRecord = { bodyHash: string; createdAt: number } & ({ state: "in_progress" } | { state: "done"; answer: IdempotentAnswer });

export interface IdempotencyStore {
  /** The live record (younger than `since`), if any. */
  get(keyId: string, idempotencyKey: string, since: number): Promise<IdempotencyRecord | undefined>;
  /** Claims the pair for a new request; false when another request holds it (a live record exists). */
  begin(keyId: string, idempotencyKey: string, bodyHash: string, now: number, since: number, instanceId?: string): Promise<boolean>;
  finish(keyId: string, idempotencyKey: string, answer: IdempotentAnswer): Promise<void>;
  /** Forgets the pair (an answer not worth replaying: a 5xx or a 429 — a retry should run again). */
  release(keyId: string, idempotencyKey: string): Promise<void>;
  /** Drops records older than `cutoff`. */
  sweep(cutoff: number): Promise<number>;
  /** Drops the `in_progress` records whose instance is not alive (their request will never be answered). */
  dropInterrupted(alive: (instanceId: string | null, createdAt: number) => Promise<boolean>): Promise<number>;
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

export async function migrateIdempotency(database: SqlRunner): Promise<void> {
  await database.exec(`CREATE TABLE IF NOT EXISTS idempotency (
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
  if (!(await database.columns("idempotency")).has("instance_id")) await database.exec("ALTER TABLE idempotency ADD COLUMN instance_id TEXT");
}

export function createIdempotencyStore(database: SqlDatabase): IdempotencyStore {
  const REMOVE = "DELETE FROM idempotency WHERE key_id = ? AND idempotency_key = ?";
  const toRecord = (row: Row): IdempotencyRecord =>
    row.state === "in_progress"
      ? { state: "in_progress", bodyHash: row.body_hash, createdAt: row.created_at }
      : {
          state: "done", bodyHash: row.body_hash, createdAt: row.created_at,
          answer: { statusCode: row.status_code ?? 200, contentType: row.content_type ?? "application/json", headers: JSON.parse(row.headers ?? "{}") as Record<string, string>, body: row.body ?? "" },
        };
  return {
    async get(keyId, idempotencyKey, since) {
      const row = await database.get<Row>("SELECT * FROM idempotency WHERE key_id = ? AND idempotency_key = ?", [keyId, idempotencyKey]);
      return row && row.created_at >= since ? toRecord(row) : undefined;
    },
    // A record past the window is replaced; of two claims at once (two processes), the one whose insert lands wins.
    begin: (keyId, idempotencyKey, bodyHash, now, since, instanceId) =>
      database.transaction(async (tx) => {
        await tx.run("DELETE FROM idempotency WHERE key_id = ? AND idempotency_key = ? AND created_at < ?", [keyId, idempotencyKey, since]);
        const inserted = await tx.run(
          "INSERT INTO idempotency (key_id, idempotency_key, body_hash, state, created_at, instance_id) VALUES (?, ?, ?, 'in_progress', ?, ?) ON CONFLICT (key_id, idempotency_key) DO NOTHING",
          [keyId, idempotencyKey, bodyHash, now, instanceId ?? null],
        );
        return inserted === 1;
      }),
    async finish(keyId, idempotencyKey, answer) {
      await database.run("UPDATE idempotency SET state = 'done', status_code = ?, content_type = ?, headers = ?, body = ? WHERE key_id = ? AND idempotency_key = ?", [
        answer.statusCode, answer.contentType, JSON.stringify(answer.headers), answer.body, keyId, idempotencyKey,
      ]);
    },
    release: async (keyId, idempotencyKey) => void (await database.run(REMOVE, [keyId, idempotencyKey])),
    sweep: (cutoff) => database.run("DELETE FROM idempotency WHERE created_at < ?", [cutoff]),
    async dropInterrupted(alive) {
      const unfinished = await database.all<{ key_id: string; idempotency_key: string; instance_id: string | null; created_at: number }>(
        "SELECT key_id, idempotency_key, instance_id, created_at FROM idempotency WHERE state = 'in_progress'",
      );
      let dropped = 0;
      for (const row of unfinished) {
        if (await alive(row.instance_id, row.created_at)) continue;
        dropped += await database.run(`${REMOVE} AND state = 'in_progress'`, [row.key_id, row.idempotency_key]);
      }
      return dropped;
    },
  };
}

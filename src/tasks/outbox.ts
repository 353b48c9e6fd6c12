/**
 * The webhook outbox: a task's callback is a row, written in the same transaction that finishes the task
 * (tasks.ts), so a finished task always has its message due and a task never finished never sends one. Any gateway's
 * dispatcher claims a due row for `leaseMs` (one conditional UPDATE, `FOR UPDATE SKIP LOCKED` on PostgreSQL), sends
 * it, and records the outcome: delivered, or due again after the next delay of the schedule, or given up after the
 * last. A gateway that dies holding a claim loses it when the lease ends, and another sends the message — with the
 * same `webhook-id`, so a receiver that already has it can tell. Nothing waits in memory.
 */
import type { SqlDatabase, SqlRunner } from "../stores/sql/types.js";
import { createClaimLoop } from "./claim-loop.js";
import { webhookIdOf, type WebhookSender } from "./webhooks.js";

export const DEFAULT_WEBHOOK_DELAYS_MS: readonly number[] = [1_000, 5_000, 30_000, 120_000, 600_000];

export async function migrateOutbox(database: SqlRunner): Promise<void> {
  await database.exec(`CREATE TABLE IF NOT EXISTS webhook_outbox (
    task_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('due', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    claimed_by TEXT,
    claimed_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (next_at) WHERE state = 'due';
  CREATE INDEX IF NOT EXISTS webhook_outbox_created ON webhook_outbox (created_at);`);
}

/** The statement that puts a task's message in the outbox, only while the task is not yet done (run with its finish). */
export const OUTBOX_INSERT = `INSERT INTO webhook_outbox (task_id, key_id, url, body, state, attempts, next_at, created_at)
  SELECT id, key_id, webhook_url, ?, 'due', 0, ?, ? FROM tasks WHERE id = ? AND state <> 'done' AND webhook_url IS NOT NULL
  ON CONFLICT (task_id) DO NOTHING`;

/** One delivery attempt's outcome: delivered, or due again at `nextAt`, or (null) given up. */
export interface AttemptOutcome {
  delivered: boolean;
  nextAt: number | null;
  failure?: string;
}

export interface OutboxMessage {
  taskId: string;
  keyId: string;
  url: string;
  body: string;
  attempts: number;
}

export interface WebhookOutbox {
  /** The message due longest, claimed by `instanceId` until `now + leaseMs`; undefined when none is due. */
  claim(instanceId: string, now: number, leaseMs: number): Promise<OutboxMessage | undefined>;
  /** Records one attempt: delivered, or due again at `nextAt`, or (null) given up. */
  attempted(taskId: string, instanceId: string, outcome: AttemptOutcome): Promise<void>;
  get(taskId: string): Promise<{ state: string; attempts: number; last_error: string | null } | undefined>;
  /**
   * Frees the claims `instanceId` holds, but those `keep` names (being sent, or their outcome waiting to be written): a
   * previous run's at start, or this run's claims whose reply was lost. They are sent at once, not after the lease.
   */
  releaseClaims(instanceId: string, keep?: (taskId: string) => boolean): Promise<number>;
  sweep(cutoff: number): Promise<number>;
}

export function createWebhookOutbox(database: SqlDatabase): WebhookOutbox {
  const CLAIM = `UPDATE webhook_outbox SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1
     WHERE task_id = (SELECT task_id FROM webhook_outbox WHERE state = 'due' AND next_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)
                      ORDER BY next_at LIMIT 1${database.dialect === "postgres" ? " FOR UPDATE SKIP LOCKED" : ""})
       AND state = 'due' AND (claimed_until IS NULL OR claimed_until < ?)
     RETURNING task_id, key_id, url, body, attempts`;
  return {
    async claim(instanceId, now, leaseMs) {
      const [row] = await database.all<{ task_id: string; key_id: string; url: string; body: string; attempts: number }>(CLAIM, [instanceId, now + leaseMs, now, now, now]);
      return row ? { taskId: row.task_id, keyId: row.key_id, url: row.url, body: row.body, attempts: row.attempts } : undefined;
    },
    async attempted(taskId, instanceId, outcome) {
      // Only the claim's holder records it: a gateway whose lease ran out (and whose message another sent) changes nothing.
      await database.run(
        `UPDATE webhook_outbox SET state = ?, next_at = COALESCE(?, next_at), last_error = ?, claimed_by = NULL, claimed_until = NULL
         WHERE task_id = ? AND claimed_by = ? AND state = 'due'`,
        [outcome.delivered ? "delivered" : outcome.nextAt === null ? "failed" : "due", outcome.nextAt, outcome.failure ?? null, taskId, instanceId],
      );
    },
    get: (taskId) => database.get("SELECT state, attempts, last_error FROM webhook_outbox WHERE task_id = ?", [taskId]),
    async releaseClaims(instanceId, keep) {
      const RELEASE = "UPDATE webhook_outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ? AND state = 'due'";
      if (!keep) return database.run(RELEASE, [instanceId]);
      let released = 0;
      for (const row of await database.all<{ task_id: string }>("SELECT task_id FROM webhook_outbox WHERE claimed_by = ? AND state = 'due'", [instanceId])) {
        if (!keep(row.task_id)) released += await database.run(`${RELEASE} AND task_id = ?`, [instanceId, row.task_id]);
      }
      return released;
    },
    sweep: (cutoff) => database.run("DELETE FROM webhook_outbox WHERE created_at < ? AND state <> 'due'", [cutoff]),
  };
}

export interface WebhookDispatcherOptions {
  outbox: WebhookOutbox;
  sender: WebhookSender;
  /** The signing secret of a key (made on first use). */
  secretOf(keyId: string): Promise<string>;
  instanceId: string;
  /** Delays between tries; default 1 s, 5 s, 30 s, 2 min, 10 min (six tries in all). */
  delaysMs?: readonly number[];
  /** How long a claim lasts before another gateway may send the message; default 60 s (beyond one try's timeout). */
  leaseMs?: number;
  /** How often an idle dispatcher looks for due messages; default 500 ms. */
  pollMs?: number;
  /** Messages sent at once by this gateway; default 8. */
  concurrency?: number;
  now: () => number;
  log?: { warn(object: Record<string, unknown>, message: string): void };
  /**
   * Records an attempt's outcome (default: straight to the outbox). The routes pass one that journals it while the
   * database is away, so that a claim is freed when it is back rather than when its lease ends.
   */
  record?: (taskId: string, outcome: AttemptOutcome) => Promise<void>;
  /** Whether an outcome about a message is waiting to be written (its claim is not an orphan). */
  held?: (taskId: string) => boolean;
}

export interface WebhookDispatcher {
  start(): void;
  /** Looks for due messages now (a task just finished here). */
  wake(): void;
  stop(): Promise<void>;
}

export function createWebhookDispatcher(options: WebhookDispatcherOptions): WebhookDispatcher {
  const delays = options.delaysMs ?? DEFAULT_WEBHOOK_DELAYS_MS;
  const leaseMs = options.leaseMs ?? 60_000;
  // A claim that failed may have committed with its reply lost: this gateway's claims it is not sending are freed
  // on the next pass (claims are made one at a time, so none is still on its way then).
  let orphanClaims = false;

  const deliver = async (message: OutboxMessage) => {
    const secret = await options.secretOf(message.keyId);
    const outcome = await options.sender.send(message.url, secret, webhookIdOf(message.taskId), message.body);
    const delay = outcome.delivered ? undefined : delays[message.attempts - 1];
    if (!outcome.delivered) {
      options.log?.warn({ taskId: message.taskId, attempt: message.attempts, failure: outcome.failure, ...(delay !== undefined ? { retryInMs: delay } : { gaveUp: true }) }, "webhook delivery failed");
    }
    const record = options.record ?? ((taskId, attempt) => options.outbox.attempted(taskId, options.instanceId, attempt));
    // A failure to record the outcome (the database away, with no journal) leaves the claim to expire: the message is sent again.
    await record(message.taskId, {
      delivered: outcome.delivered, nextAt: outcome.delivered ? null : delay === undefined ? null : options.now() + delay, ...(outcome.failure ? { failure: outcome.failure.slice(0, 300) } : {}),
    });
  };

  const loop = createClaimLoop<OutboxMessage>({
    concurrency: options.concurrency ?? 8, pollMs: options.pollMs ?? 500,
    claim: () => options.outbox.claim(options.instanceId, options.now(), leaseMs),
    idOf: (message) => message.taskId,
    work: deliver,
    onClaimFailed: () => void (orphanClaims = true),
    async beforePass() {
      if (!orphanClaims) return;
      await options.outbox.releaseClaims(options.instanceId, (id) => loop.holds(id) || (options.held?.(id) ?? false));
      orphanClaims = false;
    },
  });
  return { start: loop.start, wake: loop.wake, stop: loop.stop };
}

/**
 * Gateway instances sharing a database: each registers its id and beats every `heartbeatMs`. Work a request
 * left half-done (a reserved ledger row, a pending task) is recovered only when its instance is not alive — its
 * heartbeat is older than `staleMs`, or it is this instance's own previous run (the same INSTANCE_ID) — so a
 * gateway never settles the rows of a live neighbour.
 */
import type { Database } from "better-sqlite3";

export interface InstanceRegistry {
  readonly id: string;
  /** Records that this instance is alive now. */
  beat(now: number): void;
  /** Whether work of `instanceId` belongs to an instance still running (never true for this instance's previous run at start). */
  alive(instanceId: string | null, now: number): boolean;
  /** Removes this instance's record (a clean stop). */
  leave(): void;
}

export function createInstanceRegistry(database: Database, id: string, options: { staleMs: number; startedAt: number }): InstanceRegistry {
  database.exec(`CREATE TABLE IF NOT EXISTS instances (id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, heartbeat_at INTEGER NOT NULL);`);
  const upsert = database.prepare(
    "INSERT INTO instances (id, started_at, heartbeat_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
  );
  const restart = database.prepare("INSERT INTO instances (id, started_at, heartbeat_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at");
  const heartbeatOf = database.prepare<[string], { heartbeat_at: number; started_at: number }>("SELECT heartbeat_at, started_at FROM instances WHERE id = ?");
  const remove = database.prepare("DELETE FROM instances WHERE id = ?");
  restart.run(id, options.startedAt, options.startedAt);
  return {
    id,
    beat: (now) => void upsert.run(id, options.startedAt, now),
    alive(instanceId, now) {
      if (instanceId === null) return false;
      // This instance's own rows are alive; rows an earlier run of the same id left are recovered at start
      // (they were made before this run started).
      if (instanceId === id) return true;
      const row = heartbeatOf.get(instanceId);
      return row !== undefined && now - row.heartbeat_at < options.staleMs;
    },
    leave: () => void remove.run(id),
  };
}

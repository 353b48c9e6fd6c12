/**
 * Gateway instances sharing a database: each registers its id and beats every `heartbeatMs`. Work a request
 * left half-done (a reserved ledger row, a running task) is recovered only when its instance is not alive — its
 * heartbeat is older than `staleMs`, or it is this instance's own previous run (the same INSTANCE_ID) — so a
 * gateway never settles the rows of a live neighbour.
 */
import type { SqlDatabase, SqlRunner } from "./sql/types.js";

export interface InstanceRegistry {
  readonly id: string;
  /** Records that this instance is alive now. */
  beat(now: number): Promise<void>;
  /**
   * Whether work of `instanceId` belongs to an instance still running (this instance's own: always), read fresh: the
   * work was listed before, and an instance registers before it makes any, so a new neighbour is never taken for dead.
   */
  alive(instanceId: string | null, now: number): Promise<boolean>;
  /** Removes this instance's record (a clean stop). */
  leave(): Promise<void>;
}

export async function migrateInstances(database: SqlRunner): Promise<void> {
  await database.exec("CREATE TABLE IF NOT EXISTS instances (id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, heartbeat_at INTEGER NOT NULL);");
}

export async function createInstanceRegistry(database: SqlDatabase, id: string, options: { staleMs: number; startedAt: number }): Promise<InstanceRegistry> {
  await database.run(
    "INSERT INTO instances (id, started_at, heartbeat_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at",
    [id, options.startedAt, options.startedAt],
  );
  return {
    id,
    async beat(now) {
      await database.run("INSERT INTO instances (id, started_at, heartbeat_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at", [id, options.startedAt, now]);
    },
    async alive(instanceId, now) {
      if (instanceId === null) return false;
      // This instance's own rows are alive; rows an earlier run of the same id left are recovered at start
      // (they were made before this run started).
      if (instanceId === id) return true;
      const row = await database.get<{ heartbeat_at: number }>("SELECT heartbeat_at FROM instances WHERE id = ?", [instanceId]);
      return row !== undefined && now - row.heartbeat_at < options.staleMs;
    },
    leave: async () => void (await database.run("DELETE FROM instances WHERE id = ?", [id])),
  };
}

/**
 * Upstream accounts switched off at run time (`POST /admin/upstreams/{id}/disable|enable`), in the database, so that
 * every gateway sharing it follows: each reads the switches every few seconds (server/runtime.ts) and its router passes over
 * the accounts switched off. An account never switched has no row and is on.
 */
import type { SqlDatabase, SqlRunner } from "./sql/types.js";

export interface UpstreamSwitches {
  /** The accounts switched off now. */
  disabled(): Promise<Set<string>>;
  set(id: string, enabled: boolean, now: number): Promise<void>;
}

export async function migrateUpstreamSwitches(database: SqlRunner): Promise<void> {
  await database.exec("CREATE TABLE IF NOT EXISTS upstream_switches (id TEXT PRIMARY KEY, enabled INTEGER NOT NULL, changed_at INTEGER NOT NULL);");
}

export function createUpstreamSwitches(database: SqlDatabase): UpstreamSwitches {
  return {
    disabled: async () => new Set((await database.all<{ id: string }>("SELECT id FROM upstream_switches WHERE enabled = 0")).map((row) => row.id)),
    async set(id, enabled, now) {
      await database.run(
        "INSERT INTO upstream_switches (id, enabled, changed_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET enabled = excluded.enabled, changed_at = excluded.changed_at",
        [id, enabled ? 1 : 0, now],
      );
    },
  };
}

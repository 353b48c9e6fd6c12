/**
 * The database every store lives in — SQLite under DATA_DIR (the embedded default), or PostgreSQL when
 * DATABASE_URL is set — and its schema, brought up to date at start and by `doubao-gateway migrate`. Every
 * store's migration is idempotent (create what is missing, add the columns an older version lacks) and all of
 * them run in one transaction under one lock, so gateways starting together on one PostgreSQL do not race.
 */
import { migrateLedger } from "../accounts/ledger.js";
import { migrateTasks } from "../tasks/tasks.js";
import { migrateOutbox } from "../tasks/outbox.js";
import { migrateIdempotency } from "./idempotency.js";
import { migrateInstances } from "./instances.js";
import { migrateKeys } from "./keys.js";
import { migrateUpstreamSwitches } from "./upstream-switches.js";
import { createSqliteDatabase, sqliteFileIn, type SqliteSynchronous } from "./sql/sqlite.js";
import type { SqlDatabase } from "./sql/types.js";
import type { PostgresTimeouts } from "./sql/postgres.js";

export interface DatabaseLocation {
  /** SQLite's folder (`DATA_DIR`): `gateway.db` in it. */
  dataDir: string;
  /** `DATABASE_URL`: PostgreSQL instead. */
  databaseUrl?: string | undefined;
  /** `DATABASE_POOL_MAX`. */
  poolMax?: number;
  /** `DATABASE_*_TIMEOUT_MS` (PostgreSQL only). */
  timeouts?: Partial<PostgresTimeouts>;
  /** `SQLITE_SYNCHRONOUS` (SQLite only); `normal` when not given. */
  sqliteSynchronous?: SqliteSynchronous;
}

export async function openDatabase(location: DatabaseLocation): Promise<SqlDatabase> {
  if (!location.databaseUrl) return createSqliteDatabase(sqliteFileIn(location.dataDir), location.sqliteSynchronous);
  // pg is loaded only for PostgreSQL.
  const { createPostgresDatabase } = await import("./sql/postgres.js");
  return createPostgresDatabase({ url: location.databaseUrl, ...(location.poolMax ? { poolMax: location.poolMax } : {}), ...(location.timeouts ? { timeouts: location.timeouts } : {}) });
}

/** Brings every store's tables up to date. */
export async function migrate(database: SqlDatabase): Promise<void> {
  await database.transaction(async (tx) => {
    await tx.lock("doubao-gateway:migrate");
    await migrateKeys(tx);
    await migrateLedger(tx);
    await migrateTasks(tx);
    await migrateOutbox(tx);
    await migrateIdempotency(tx);
    await migrateInstances(tx);
    await migrateUpstreamSwitches(tx);
  });
}

/** Opens the database and brings its schema up to date. */
export async function openMigrated(location: DatabaseLocation): Promise<SqlDatabase> {
  const database = await openDatabase(location);
  try {
    await migrate(database);
  } catch (error) {
    await database.close().catch(() => undefined);
    throw error;
  }
  return database;
}

/**
 * The SQLite backend (better-sqlite3, WAL): synchronous underneath, so a transaction holds a gate that every other
 * statement of this connection waits behind — without it, a statement from another request, run while a
 * transaction awaits, would join that transaction (and its rollback). `batch` commits the batches of one
 * event-loop turn together. Statements are prepared once and cached.
 */
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import Database, { type Statement } from "better-sqlite3";
import type { SqlDatabase, SqlRunner, SqlValue } from "./types.js";

/**
 * How SQLite waits for the disk (`SQLITE_SYNCHRONOUS`): `normal` (the default), synced at checkpoints only — a crash
 * of the process loses nothing committed, a power cut may undo the last commits; `full`, every commit synced. The
 * default is `normal` because the fsync runs on the event loop (better-sqlite3 is synchronous): under load it held
 * the loop ~11 % of the time, and every request in the process waited behind it — pass-through req/s was 9–35 %
 * higher without it (6 alternating pairs). The ledger's guarantees are against a crash of the process, which NORMAL
 * keeps whole; FULL alone does not make a power cut safe either, as result files are written without a sync (a
 * synced charge could outlive its image).
 * Always set: left alone, better-sqlite3 gives FULL to a database it creates and NORMAL to one it reopens in WAL
 * mode, so the same gateway changed its durability on its first restart.
 */
export type SqliteSynchronous = "full" | "normal";

export function openSqliteFile(file: string, synchronous: SqliteSynchronous = "normal"): Database.Database {
  if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
  const database = new Database(file);
  database.pragma("journal_mode = WAL");
  database.pragma(`synchronous = ${synchronous.toUpperCase()}`);
  database.pragma("busy_timeout = 5000");
  return database;
}

export function createSqliteDatabase(file: string, synchronous?: SqliteSynchronous): SqlDatabase {
  const database = openSqliteFile(file, synchronous);
  const statements = new Map<string, Statement<SqlValue[]>>();
  const statement = (sql: string) => {
    let prepared = statements.get(sql);
    if (!prepared) {
      prepared = database.prepare<SqlValue[]>(sql);
      statements.set(sql, prepared);
    }
    return prepared;
  };
  // Resolved at once: the work is synchronous, and errors become rejections as with PostgreSQL.
  const direct: SqlRunner = {
    dialect: "sqlite",
    all: async <T>(sql: string, parameters: readonly SqlValue[] = []) => statement(sql).all(...parameters) as T[],
    get: async <T>(sql: string, parameters: readonly SqlValue[] = []) => statement(sql).get(...parameters) as T | undefined,
    run: async (sql, parameters = []) => {
      const prepared = statement(sql);
      // A statement with RETURNING reads: run it as a read, count its rows.
      return prepared.reader ? prepared.all(...parameters).length : prepared.run(...parameters).changes;
    },
    lock: async () => undefined,
    exec: async (ddl) => void database.exec(ddl),
    columns: async (table) => new Set(database.prepare<[string], { name: string }>("SELECT name FROM pragma_table_info(?)").all(table).map((column) => column.name)),
  };
  // Group commit: the batches asked for in one turn of the event loop are written in one transaction; every caller's
  // promise resolves only after that transaction committed, so nothing is answered before it is written. A batch that
  // fails rolls the group back, and the group is written again with each batch in a savepoint of its own (the failing
  // one rolled back alone, rejecting alone) — savepoints cost two statements a batch, so only then.
  type Statements = ReadonlyArray<readonly [string, readonly SqlValue[]]>;
  const runBatch = (batch: Statements) => batch.map(([sql, parameters]) => statement(sql).run(...parameters).changes);
  const runPlain = database.transaction((group: Statements[]) => group.map(runBatch)).immediate;
  const runOne = database.transaction(runBatch);
  const runGroup = database.transaction((group: Statements[]) =>
    group.map((batch): { changes: number[] } | { error: unknown } => {
      try {
        return { changes: runOne(batch) };
      } catch (error) {
        return { error };
      }
    }),
  ).immediate;
  let pending: Array<{ statements: Statements; resolve: (changes: number[]) => void; reject: (error: unknown) => void }> = [];
  const flush = async () => {
    while (gate) await gate;
    if (pending.length === 0) return;
    const group = pending;
    pending = [];
    const batches = group.map((entry) => entry.statements);
    let outcomes: Array<{ changes: number[] } | { error: unknown }>;
    try {
      outcomes = runPlain(batches).map((changes) => ({ changes }));
    } catch {
      try {
        outcomes = runGroup(batches);
      } catch (error) {
        for (const entry of group) entry.reject(error);
        return;
      }
    }
    outcomes.forEach((outcome, index) => {
      const entry = group[index] as (typeof group)[number];
      if ("error" in outcome) entry.reject(outcome.error);
      else entry.resolve(outcome.changes);
    });
  };
  const batch = (statements: Statements) =>
    new Promise<number[]>((resolve, reject) => {
      if (pending.length === 0) setImmediate(() => void flush());
      pending.push({ statements, resolve, reject });
    });
  let gate: Promise<void> | undefined;
  const gated = <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      while (gate) await gate;
      return call(...args);
    };
  return {
    dialect: "sqlite",
    location: file,
    all: gated(direct.all) as SqlRunner["all"],
    get: gated(direct.get) as SqlRunner["get"],
    run: gated(direct.run),
    lock: direct.lock,
    exec: gated(direct.exec),
    columns: gated(direct.columns),
    async transaction(work) {
      while (gate) await gate;
      let open = () => undefined as void;
      gate = new Promise<void>((resolve) => (open = resolve));
      try {
        database.exec("BEGIN IMMEDIATE");
        try {
          const result = await work(direct);
          database.exec("COMMIT");
          return result;
        } catch (error) {
          if (database.inTransaction) database.exec("ROLLBACK");
          throw error;
        }
      } finally {
        gate = undefined;
        open();
      }
    },
    batch,
    ping: async () => void database.prepare("SELECT 1").get(),
    close: async () => {
      while (gate) await gate;
      // Batches asked for before the close are written, not dropped.
      await flush();
      database.close();
    },
  };
}

/** The gateway's SQLite file in a data folder. */
export const sqliteFileIn = (dataDir: string) => join(dataDir, "gateway.db");

/** The raw better-sqlite3 connection to a data folder's database (tests and tools that read it directly). */
export const openSqliteDataDir = (dataDir: string): Database.Database => openSqliteFile(sqliteFileIn(dataDir));

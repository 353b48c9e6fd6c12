/**
 * The PostgreSQL backend (`DATABASE_URL=postgres://…`): a `pg` pool; `?` placeholders become `$n`; 64-bit
 * integers and sums come back as numbers (every value the stores keep — milliseconds, micro-units, counts — is
 * far below 2^53). `?schema=NAME` in the URL puts the tables in that schema (made when missing).
 */
import pg from "pg";
import { partUnavailable } from "../../errors/errors.js";
import type { SqlDatabase, SqlRunner, SqlValue } from "./types.js";

export interface PostgresOptions {
  /** `postgres://user:password@host:port/database[?schema=NAME]`. */
  url: string;
  /** Connections in the pool (DATABASE_POOL_MAX); default 10. */
  poolMax?: number;
  /** Bounds on every wait, in ms (DATABASE_*_TIMEOUT_MS); see DEFAULT_POSTGRES_TIMEOUTS. */
  timeouts?: Partial<PostgresTimeouts>;
}

export interface PostgresTimeouts {
  /** A new connection, or a free one from a full pool (pg-pool's `connectionTimeoutMillis`). */
  connectMs: number;
  /**
   * One statement: the server cancels it past this (`statement_timeout`), and the client gives up on an answer half a
   * second later (`query_timeout`) — the bound that holds when the server, or the network to it, has gone silent.
   */
  statementMs: number;
  /** A transaction left open by a gateway that lost its connection is ended by the server past this (`idle_in_transaction_session_timeout`), releasing its locks. */
  idleInTransactionMs: number;
}

export const DEFAULT_POSTGRES_TIMEOUTS: PostgresTimeouts = { connectMs: 3_000, statementMs: 5_000, idleInTransactionMs: 10_000 };

// SQLSTATE classes and codes that say the connection or the server, not the statement, failed: connection exceptions
// (08), insufficient resources (53: too many connections), the server shutting down or starting (57P01–57P03), a
// statement cancelled by statement_timeout (57014), a transaction ended by idle_in_transaction_session_timeout (25P03).
const UNAVAILABLE_STATES = /^(08|53|57P0[1-3]$|57014$|25P03$)/;
const UNAVAILABLE_ERRNOS = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "ECONNABORTED"]);
const UNAVAILABLE_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Query read timeout|not queryable|Connection closed|connection error/i;

/** Whether a pg error is the database being away (the connection refused, cut, silent or shut down) rather than the statement's fault. */
export function isConnectionFailure(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === "string" && (UNAVAILABLE_ERRNOS.has(code) || (code.length === 5 && UNAVAILABLE_STATES.test(code)))) return true;
  return typeof message === "string" && UNAVAILABLE_MESSAGES.test(message);
}

/** A connection failure as the 503 a client gets (the statement's own errors — a duplicate key, a bad column — pass unchanged). */
function translated(error: unknown): unknown {
  if (!isConnectionFailure(error)) return error;
  const { code, message } = error as { code?: string; message?: string };
  return Object.assign(partUnavailable("database", String(code === "57014" ? "statement timeout" : (message ?? code ?? "no answer")).slice(0, 120)), { cause: error });
}

/** How often, while the database is away, one statement is let through to find out whether it is back. */
const PROBE_MS = 250;

/**
 * Runs statements and translates connection failures — and, after one, takes the database as away: every statement
 * fails at once (503) instead of each waiting out the bound, except one probe every PROBE_MS, whose success ends it.
 * So a request in flight when the database went away waits out one bound at most, not one per statement it has left.
 */
function outageGuard() {
  let away = false;
  let probing = false;
  let nextProbeAt = 0;
  return async <T>(call: () => Promise<T>): Promise<T> => {
    let probe = false;
    if (away) {
      const now = Date.now();
      if (probing || now < nextProbeAt) throw partUnavailable("database", "unreachable a moment ago; checking again");
      probe = probing = true;
      nextProbeAt = now + PROBE_MS;
    }
    try {
      const result = await call();
      away = false;
      return result;
    } catch (error) {
      if (isConnectionFailure(error)) {
        away = true;
        nextProbeAt = Math.max(nextProbeAt, Date.now() + PROBE_MS);
      }
      throw translated(error);
    } finally {
      if (probe) probing = false;
    }
  };
}

const INT8 = 20;
const NUMERIC = 1700;
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8 || oid === NUMERIC ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

const placeholders = new Map<string, string>();
/** `?` → `$1`, `$2`, … (the stores never put a `?` inside a literal). */
function numbered(sql: string): string {
  let text = placeholders.get(sql);
  if (text === undefined) {
    let n = 0;
    text = sql.replace(/\?/g, () => `$${++n}`);
    placeholders.set(sql, text);
  }
  return text;
}

const ddlOf = (ddl: string) => ddl.replace(/\bINTEGER\b/g, "BIGINT").replace(/\bBLOB\b/g, "BYTEA");
const quoteIdentifier = (name: string) => `"${name.replace(/"/g, '""')}"`;
/** The schema as a startup `-c search_path=…` value: quoted, with backslashes and spaces escaped as libpq's options want. */
const searchPathOption = (name: string) => quoteIdentifier(name).replace(/([\\\s])/g, "\\$1");

/** The URL without its password, for logs and banners. */
export function safeLocation(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "postgres (unparseable URL)";
  }
}

export async function createPostgresDatabase(options: PostgresOptions): Promise<SqlDatabase> {
  const parsed = new URL(options.url);
  const schema = parsed.searchParams.get("schema");
  parsed.searchParams.delete("schema");
  const timeouts = { ...DEFAULT_POSTGRES_TIMEOUTS, ...options.timeouts };
  const pool = new pg.Pool({
    connectionString: parsed.toString(), max: options.poolMax ?? 10, types,
    // The schema is set in the connection's startup message, so every connection works in it from its first statement
    // — not by a SET sent on "connect", which raced the pool's first query on the same client (two queries at once,
    // pg's DeprecationWarning, an error in pg 9).
    ...(schema ? { options: `-c search_path=${searchPathOption(schema)}` } : {}),
    connectionTimeoutMillis: timeouts.connectMs, statement_timeout: timeouts.statementMs, query_timeout: timeouts.statementMs + 500,
    idle_in_transaction_session_timeout: timeouts.idleInTransactionMs,
    // A connection whose peer vanished without a reset (a partition) is found dead by the kernel, not kept for ever.
    keepAlive: true, keepAliveInitialDelayMillis: 10_000,
  });
  // An idle client that loses its server emits here; without a listener the process would exit.
  pool.on("error", () => undefined);
  if (schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
  const guarded = outageGuard();
  const runnerOf = (client: pg.Pool | pg.PoolClient): SqlRunner => {
    // Every statement through the outage guard, its placeholders numbered.
    const query = <R extends pg.QueryResultRow>(sql: string, parameters: readonly SqlValue[] = []) => guarded(() => client.query<R>(numbered(sql), parameters as SqlValue[]));
    return {
      dialect: "postgres",
      all: async <T>(sql: string, parameters?: readonly SqlValue[]) => (await query(sql, parameters)).rows as T[],
      get: async <T>(sql: string, parameters?: readonly SqlValue[]) => (await query(sql, parameters)).rows[0] as T | undefined,
      run: async (sql, parameters) => (await query(sql, parameters)).rowCount ?? 0,
      lock: async (name) => void (await query("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [name])),
      exec: async (ddl) => void (await guarded(() => client.query(ddlOf(ddl)))),
      columns: async (table) =>
        new Set(
          (await query<{ column_name: string }>("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?", [table])).rows.map(
            (row) => row.column_name,
          ),
        ),
    };
  };
  const shared = runnerOf(pool);
  const transaction: SqlDatabase["transaction"] = async (work) => {
    const client = await guarded(() => pool.connect());
    // pg-pool listens for a checked-out client's errors no more: a connection that dies inside the transaction (or
    // while it waits for a lock) emits here, and an 'error' event nobody hears would end the process.
    let broken: unknown;
    const onError = (error: unknown) => void (broken ??= error);
    client.on("error", onError);
    try {
      await guarded(() => client.query("BEGIN"));
      const result = await work(runnerOf(client));
      await guarded(() => client.query("COMMIT"));
      return result;
    } catch (error) {
      // A connection that failed (or timed out, and may still run the statement) is not rolled back over: it is
      // dropped below, and the server ends its transaction when the socket closes (or idle_in_transaction_session_timeout).
      if (isConnectionFailure((error as { cause?: unknown }).cause ?? error)) broken ??= error;
      else await client.query("ROLLBACK").catch((failure: unknown) => void (broken ??= failure));
      throw error;
    } finally {
      client.off("error", onError);
      // A broken connection is destroyed, not handed to the next transaction; the pool opens a fresh one.
      client.release(broken !== undefined ? (broken instanceof Error ? broken : new Error(String(broken))) : undefined);
    }
  };
  return {
    ...shared,
    location: safeLocation(options.url),
    transaction,
    // One statement is atomic on its own: sent as it is, one round trip, not BEGIN, the statement and COMMIT (the
    // reservation of a key without a quota, the files of a request).
    batch: (statements) =>
      statements.length === 1
        ? shared.run(...(statements[0] as readonly [string, readonly SqlValue[]])).then((changed) => [changed])
        : transaction(async (tx) => {
            const changed: number[] = [];
            for (const [sql, parameters] of statements) changed.push(await tx.run(sql, parameters));
            return changed;
          }),
    ping: async () => void (await guarded(() => pool.query("SELECT 1"))),
    close: () => pool.end(),
  };
}

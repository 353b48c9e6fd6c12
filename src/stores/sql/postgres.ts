/**
 * The PostgreSQL backend (`DATABASE_URL=postgres://…`): a `pg` pool; `?` placeholders become `$n`; 64-bit
 * integers and sums come back as numbers (every value the stores keep — milliseconds, micro-units, counts — is
 * far below 2^53). `?schema=NAME` in the URL puts the tables in that schema (made when missing).
 */
import pg from "pg";
import type { SqlDatabase, SqlRunner, SqlValue } from "./types.js";

export interface PostgresOptions {
  /** `postgres://user:password@host:port/database[?schema=NAME]`. */
  url: string;
  /** Connections in the pool (DATABASE_POOL_MAX); default 10. */
  poolMax?: number;
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
  const pool = new pg.Pool({ connectionString: parsed.toString(), max: options.poolMax ?? 10, types });
  // An idle client that loses its server emits here; without a listener the process would exit.
  pool.on("error", () => undefined);
  if (schema) {
    // Before the first query: every connection, the first included, works in the schema.
    pool.on("connect", (client) => void client.query(`SET search_path TO ${quoteIdentifier(schema)}`).catch(() => undefined));
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
  }
  const runnerOf = (client: pg.Pool | pg.PoolClient): SqlRunner => ({
    dialect: "postgres",
    all: async <T>(sql: string, parameters: readonly SqlValue[] = []) => (await client.query(numbered(sql), parameters as SqlValue[])).rows as T[],
    get: async <T>(sql: string, parameters: readonly SqlValue[] = []) => (await client.query(numbered(sql), parameters as SqlValue[])).rows[0] as T | undefined,
    run: async (sql, parameters = []) => (await client.query(numbered(sql), parameters as SqlValue[])).rowCount ?? 0,
    lock: async (name) => void (await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [name])),
    exec: async (ddl) => void (await client.query(ddlOf(ddl))),
    columns: async (table) =>
      new Set(
        (await client.query<{ column_name: string }>("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1", [table])).rows.map(
          (row) => row.column_name,
        ),
      ),
  });
  const shared = runnerOf(pool);
  const transaction: SqlDatabase["transaction"] = async (work) => {
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      const result = await work(runnerOf(client));
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
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
    ping: async () => void (await pool.query("SELECT 1")),
    close: () => pool.end(),
  };
}

/**
 * The one contract the stores (keys, ledger, tasks, idempotency, instances) are written against, with two
 * backends: SQLite under `DATA_DIR` (the embedded default) and PostgreSQL (`DATABASE_URL`). The stores' SQL is
 * the common subset of both dialects, with `?` placeholders; what differs (column types in DDL, row locks) is
 * said through this contract rather than in the stores.
 */
export type SqlValue = string | number | Buffer | null;

export interface SqlRunner {
  readonly dialect: "sqlite" | "postgres";
  all<T>(sql: string, parameters?: readonly SqlValue[]): Promise<T[]>;
  get<T>(sql: string, parameters?: readonly SqlValue[]): Promise<T | undefined>;
  /** Runs a statement; resolves to the number of rows it changed. */
  run(sql: string, parameters?: readonly SqlValue[]): Promise<number>;
  /**
   * Holds `name` until the transaction ends, so that two transactions about one thing (a key's quota, a task's
   * claim) run one after the other across processes: PostgreSQL's transaction-scoped advisory lock; nothing on
   * SQLite, whose write transactions are already serial (BEGIN IMMEDIATE).
   */
  lock(name: string): Promise<void>;
  /** Schema statements (several, no parameters); `INTEGER` is 64-bit and `BLOB` is bytes on both backends. */
  exec(ddl: string): Promise<void>;
  /** The column names of a table (empty when it does not exist). */
  columns(table: string): Promise<Set<string>>;
}

export interface SqlDatabase extends SqlRunner {
  /** Where the data lives, without credentials, for the start banner and `migrate`. */
  readonly location: string;
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: SqlRunner) => Promise<T>): Promise<T>;
  /**
   * Runs statements that need no answer from each other in one transaction, in order; resolves to the rows each changed.
   * On SQLite this is one synchronous call (nothing else of this connection can come between them).
   */
  batch(statements: ReadonlyArray<readonly [sql: string, parameters: readonly SqlValue[]]>): Promise<number[]>;
  /** Resolves when the database answers a trivial query (`/ready`). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A constraint violation (a duplicate primary key or unique value) on either backend. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE";
}

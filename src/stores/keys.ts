/**
 * API keys in the database (SQLite under `DATA_DIR`, or PostgreSQL). Only a SHA-256 hash and a short prefix are stored; the secret is
 * shown once. Keys are 240 random bits, so a fast hash is enough; the compare is constant-time.
 * Each key carries its role, expiry, allowed models and limits (accounts/ enforces them).
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import type { SqlDatabase, SqlRunner, SqlValue } from "./sql/types.js";

export type KeyRole = "user" | "admin";
export type FailedImages = "inline" | "omit";

/** What an operator sets on a key; `null` means "no limit" (or "all models"). Spend is in micro-units of the price currency. */
export interface KeyLimits {
  expiresAt: number | null;
  /** Where the key's async tasks are reported when a request names no `webhook_url`; none when null. */
  webhookUrl: string | null;
  /**
   * How a request of this key that names no `X-Gateway-Failed-Images` answers an image that could not be made:
   * `inline` (Ark's way, an `error` item at its place) or `omit` (left out of `data`, listed in `failed`).
   */
  failedImages: FailedImages;
  allowedModels: string[] | null;
  rpm: number | null;
  concurrency: number | null;
  dailyImages: number | null;
  totalImages: number | null;
  dailySpendMicros: number | null;
  totalSpendMicros: number | null;
}

export interface ApiKeyRecord extends KeyLimits {
  id: string;
  name: string;
  prefix: string;
  role: KeyRole;
  createdAt: number;
  disabledAt: number | null;
}

export type KeyCheck = { ok: true; record: ApiKeyRecord } | { ok: false; reason: "unknown" | "disabled" | "expired"; record?: ApiKeyRecord };

export interface NewKey extends Partial<KeyLimits> {
  name: string;
  role?: KeyRole;
  /** A chosen secret (GATEWAY_BOOTSTRAP_KEY); a random one otherwise. */
  secret?: string;
}

export interface KeyStore {
  create(key: NewKey): Promise<{ record: ApiKeyRecord; secret: string }>;
  /** The key with this secret and whether it may be used at `now`. */
  check(secret: string, now?: number): Promise<KeyCheck>;
  findBySecret(secret: string): Promise<ApiKeyRecord | undefined>;
  /** By id, by a unique start of the id or of the secret's prefix, or by a unique name. */
  get(reference: string): Promise<ApiKeyRecord | undefined>;
  /** The key's webhook signing secret (`whsec_…`, Standard Webhooks), made on first use. */
  webhookSecret(id: string): Promise<string>;
  /** Every key a reference could mean (the id; else those of that name; else those whose id or prefix starts so), at most 10. */
  matches(reference: string): Promise<ApiKeyRecord[]>;
  list(): Promise<ApiKeyRecord[]>;
  update(id: string, patch: Partial<KeyLimits> & { name?: string; role?: KeyRole }): Promise<ApiKeyRecord | undefined>;
  setDisabled(id: string, disabled: boolean, now?: number): Promise<ApiKeyRecord | undefined>;
  delete(id: string): Promise<boolean>;
  /** The key with this id and whether it may be used at `now`: read fresh, so a revocation takes effect for requests in flight. */
  checkId(id: string, now?: number): Promise<KeyCheck>;
  count(): Promise<number>;
}

/** The one rule for whether a key may be used at `now` (auth, the re-check before each attempt, the admin view). */
export function keyState(record: ApiKeyRecord | undefined, now: number): KeyCheck {
  if (!record) return { ok: false, reason: "unknown" };
  if (record.disabledAt !== null) return { ok: false, reason: "disabled", record };
  if (record.expiresAt !== null && now >= record.expiresAt) return { ok: false, reason: "expired", record };
  return { ok: true, record };
}

const PREFIX_LENGTH = 12;
const hash = (secret: string) => createHash("sha256").update(secret, "utf8").digest();

/** `dg_` and 40 base64url characters. */
export function newSecret(): string {
  return `dg_${randomBytes(30).toString("base64url")}`;
}

interface Row {
  id: string;
  name: string;
  prefix: string;
  hash: Buffer;
  role: KeyRole;
  created_at: number;
  disabled_at: number | null;
  expires_at: number | null;
  allowed_models: string | null;
  rpm_limit: number | null;
  concurrency_limit: number | null;
  daily_images: number | null;
  total_images: number | null;
  daily_spend_micros: number | null;
  total_spend_micros: number | null;
  webhook_url: string | null;
  failed_images: FailedImages | null;
}

/** Columns added after the first release, with their definitions (existing databases get them on open). */
const ADDED_COLUMNS: ReadonlyArray<[string, string]> = [
  ["role", "TEXT NOT NULL DEFAULT 'user'"],
  ["expires_at", "INTEGER"],
  ["allowed_models", "TEXT"],
  ["rpm_limit", "INTEGER"],
  ["concurrency_limit", "INTEGER"],
  ["daily_images", "INTEGER"],
  ["total_images", "INTEGER"],
  ["daily_spend_micros", "INTEGER"],
  ["total_spend_micros", "INTEGER"],
  ["webhook_secret", "TEXT"],
  ["webhook_url", "TEXT"],
  ["failed_images", "TEXT"],
];

const LIMIT_COLUMNS: Readonly<Record<keyof KeyLimits, string>> = {
  expiresAt: "expires_at",
  allowedModels: "allowed_models",
  rpm: "rpm_limit",
  concurrency: "concurrency_limit",
  dailyImages: "daily_images",
  totalImages: "total_images",
  dailySpendMicros: "daily_spend_micros",
  totalSpendMicros: "total_spend_micros",
  webhookUrl: "webhook_url",
  failedImages: "failed_images",
};

/** Creates the table, or adds what an older version's lacks. */
export async function migrateKeys(database: SqlRunner): Promise<void> {
  await database.exec(`CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    disabled_at INTEGER
  );
  CREATE INDEX IF NOT EXISTS api_keys_prefix ON api_keys (prefix);`);
  const present = await database.columns("api_keys");
  const missing = ADDED_COLUMNS.filter(([name]) => !present.has(name));
  if (missing.length === 0) return;
  for (const [name, definition] of missing) await database.exec(`ALTER TABLE api_keys ADD COLUMN ${name} ${definition}`);
  // A database from before roles: its oldest key (the one printed at first start) becomes the admin.
  if (!present.has("role")) await database.exec("UPDATE api_keys SET role = 'admin' WHERE id = (SELECT id FROM api_keys ORDER BY created_at LIMIT 1)");
}

export function createKeyStore(database: SqlDatabase): KeyStore {
  const toRecord = (row: Row): ApiKeyRecord => ({
    id: row.id, name: row.name, prefix: row.prefix, role: row.role, createdAt: row.created_at, disabledAt: row.disabled_at,
    expiresAt: row.expires_at, allowedModels: row.allowed_models === null ? null : (JSON.parse(row.allowed_models) as string[]),
    rpm: row.rpm_limit, concurrency: row.concurrency_limit, dailyImages: row.daily_images, totalImages: row.total_images,
    dailySpendMicros: row.daily_spend_micros, totalSpendMicros: row.total_spend_micros, webhookUrl: row.webhook_url ?? null,
    failedImages: row.failed_images ?? "inline",
  });
  const column = (field: keyof KeyLimits, value: KeyLimits[keyof KeyLimits]): SqlValue =>
    field === "allowedModels" ? (value === null ? null : JSON.stringify(value)) : (value as SqlValue);
  const find = async (secret: string): Promise<ApiKeyRecord | undefined> => {
    const digest = hash(secret);
    let found: Row | undefined;
    for (const row of await database.all<Row>("SELECT * FROM api_keys WHERE prefix = ?", [secret.slice(0, PREFIX_LENGTH)])) {
      if (row.hash.length === digest.length && timingSafeEqual(row.hash, digest)) found = row;
    }
    return found ? toRecord(found) : undefined;
  };
  const get = async (id: string) => {
    const row = await database.get<Row>("SELECT * FROM api_keys WHERE id = ?", [id]);
    return row ? toRecord(row) : undefined;
  };
  const secretOf = async (id: string) => (await database.get<{ webhook_secret: string | null }>("SELECT webhook_secret FROM api_keys WHERE id = ?", [id]))?.webhook_secret ?? null;
  const store: KeyStore = {
    async create(key) {
      const secret = key.secret ?? newSecret();
      if (secret.length < 20) throw new Error("an API key must be at least 20 characters");
      const record: ApiKeyRecord = {
        id: randomUUID(), name: key.name, prefix: secret.slice(0, PREFIX_LENGTH), role: key.role ?? "user", createdAt: Date.now(), disabledAt: null,
        expiresAt: key.expiresAt ?? null, allowedModels: key.allowedModels ?? null, rpm: key.rpm ?? null, concurrency: key.concurrency ?? null,
        dailyImages: key.dailyImages ?? null, totalImages: key.totalImages ?? null, dailySpendMicros: key.dailySpendMicros ?? null,
        totalSpendMicros: key.totalSpendMicros ?? null, webhookUrl: key.webhookUrl ?? null, failedImages: key.failedImages ?? "inline",
      };
      const fields = Object.keys(LIMIT_COLUMNS) as Array<keyof KeyLimits>;
      await database.run(
        `INSERT INTO api_keys (id, name, prefix, hash, role, created_at, ${fields.map((field) => LIMIT_COLUMNS[field]).join(", ")}) VALUES (?, ?, ?, ?, ?, ?, ${fields.map(() => "?").join(", ")})`,
        [record.id, record.name, record.prefix, hash(secret), record.role, record.createdAt, ...fields.map((field) => column(field, record[field]))],
      );
      return { record, secret };
    },
    check: async (secret, now = Date.now()) => keyState(await find(secret), now),
    checkId: async (id, now = Date.now()) => keyState(await get(id), now),
    findBySecret: find,
    async get(reference) {
      const matches = await store.matches(reference);
      return matches.length === 1 ? matches[0] : undefined;
    },
    async matches(reference) {
      const exact = await get(reference);
      if (exact) return [exact];
      const named = await database.all<Row>("SELECT * FROM api_keys WHERE name = ? ORDER BY created_at LIMIT 10", [reference]);
      if (named.length > 0) return named.map(toRecord);
      if (reference.length < 4) return [];
      // `_` and `%` are LIKE wildcards, and key prefixes contain `_` (dg_…): they are escaped, not dropped.
      const pattern = `${reference.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
      return (await database.all<Row>("SELECT * FROM api_keys WHERE id LIKE ? ESCAPE '\\' OR prefix LIKE ? ESCAPE '\\' ORDER BY created_at LIMIT 10", [pattern, pattern])).map(toRecord);
    },
    list: async () => (await database.all<Row>("SELECT * FROM api_keys ORDER BY created_at, id")).map(toRecord),
    async update(id, patch) {
      const sets: string[] = [];
      const values: SqlValue[] = [];
      for (const [field, name] of Object.entries(LIMIT_COLUMNS) as Array<[keyof KeyLimits, string]>) {
        if (patch[field] === undefined) continue;
        sets.push(`${name} = ?`);
        values.push(column(field, patch[field]));
      }
      for (const [name, value] of [["name", patch.name], ["role", patch.role]] as const) {
        if (value === undefined) continue;
        sets.push(`${name} = ?`);
        values.push(value);
      }
      if (sets.length > 0) await database.run(`UPDATE api_keys SET ${sets.join(", ")} WHERE id = ?`, [...values, id]);
      return get(id);
    },
    async setDisabled(id, disabled, now = Date.now()) {
      await database.run("UPDATE api_keys SET disabled_at = ? WHERE id = ?", [disabled ? now : null, id]);
      return get(id);
    },
    delete: async (id) => (await database.run("DELETE FROM api_keys WHERE id = ?", [id])) > 0,
    async webhookSecret(id) {
      const existing = await secretOf(id);
      if (existing) return existing;
      // Two first uses at once (two processes) keep the first secret written.
      const secret = `whsec_${randomBytes(32).toString("base64")}`;
      await database.run("UPDATE api_keys SET webhook_secret = COALESCE(webhook_secret, ?) WHERE id = ?", [secret, id]);
      return (await secretOf(id)) ?? secret;
    },
    count: async () => (await database.get<{ n: number }>("SELECT count(*) AS n FROM api_keys"))?.n ?? 0,
  };
  return store;
}

/**
 * A key store that answers `check` and `checkId` from memory: a record read from the database is kept for `ttlMs`
 * (KEY_CACHE_MS), and every write through this store empties the cache, so a change made here (admin API, another
 * request) holds at once and one made by another process (a neighbour gateway, the CLI) within `ttlMs`. Unknown
 * secrets are not remembered (a new key is usable at once; guessing keys fills no memory). Expiry is judged at each
 * call, from the cached record.
 */
export function cachedKeyStore(store: KeyStore, options: { ttlMs: number; now?: () => number; maxEntries?: number }): KeyStore {
  if (options.ttlMs <= 0) return store;
  const clock = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 10_000;
  const bySecret = new Map<string, { record: ApiKeyRecord; at: number }>();
  const byId = new Map<string, { record: ApiKeyRecord | undefined; at: number }>();
  const fresh = (entry: { at: number } | undefined) => entry !== undefined && clock() - entry.at < options.ttlMs;
  const clear = () => {
    bySecret.clear();
    byId.clear();
  };
  const remember = <V>(map: Map<string, V>, key: string, value: V) => {
    if (map.size >= maxEntries) map.clear();
    map.set(key, value);
  };
  const writing = <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await call(...args);
      } finally {
        clear();
      }
    };
  return {
    ...store,
    async findBySecret(secret) {
      const cached = bySecret.get(secret);
      if (fresh(cached)) return cached?.record;
      const record = await store.findBySecret(secret);
      if (record) remember(bySecret, secret, { record, at: clock() });
      return record;
    },
    async check(secret, now = Date.now()) {
      return keyState(await this.findBySecret(secret), now);
    },
    async checkId(id, now = Date.now()) {
      const cached = byId.get(id);
      if (fresh(cached)) return keyState(cached?.record, now);
      const checked = await store.checkId(id, now);
      remember(byId, id, { record: checked.record, at: clock() });
      return checked;
    },
    create: writing(store.create),
    update: writing(store.update),
    setDisabled: writing(store.setDisabled),
    delete: writing(store.delete),
  };
}

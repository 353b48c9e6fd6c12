/**
 * API keys in SQLite under `DATA_DIR`. Only a SHA-256 hash and a short prefix are stored; the secret is
 * shown once. Keys are 240 random bits, so a fast hash is enough; the compare is constant-time.
 * Each key carries its role, expiry, allowed models and limits (accounts/ enforces them).
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import type { Database } from "better-sqlite3";

export type KeyRole = "user" | "admin";

/** What an operator sets on a key; `null` means "no limit" (or "all models"). Spend is in micro-units of the price currency. */
export interface KeyLimits {
  expiresAt: number | null;
  /** Where the key's async tasks are reported when a request names no `webhook_url`; none when null. */
  webhookUrl: string | null;
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
  create(key: NewKey): { record: ApiKeyRecord; secret: string };
  /** The key with this secret and whether it may be used at `now`. */
  check(secret: string, now?: number): KeyCheck;
  findBySecret(secret: string): ApiKeyRecord | undefined;
  /** By id, by a unique start of the id or of the secret's prefix, or by a unique name. */
  get(reference: string): ApiKeyRecord | undefined;
  /** The key's webhook signing secret (`whsec_…`, Standard Webhooks), made on first use. */
  webhookSecret(id: string): string;
  /** Every key a reference could mean (the id; else those of that name; else those whose id or prefix starts so), at most 10. */
  matches(reference: string): ApiKeyRecord[];
  list(): ApiKeyRecord[];
  update(id: string, patch: Partial<KeyLimits> & { name?: string; role?: KeyRole }): ApiKeyRecord | undefined;
  setDisabled(id: string, disabled: boolean, now?: number): ApiKeyRecord | undefined;
  delete(id: string): boolean;
  /** The key with this id and whether it may be used at `now`: read fresh, so a revocation takes effect for requests in flight. */
  checkId(id: string, now?: number): KeyCheck;
  count(): number;
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
};

function migrate(database: Database): void {
  database.exec(`CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    disabled_at INTEGER
  );
  CREATE INDEX IF NOT EXISTS api_keys_prefix ON api_keys (prefix);`);
  const present = new Set(database.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('api_keys')").all().map((column) => column.name));
  const missing = ADDED_COLUMNS.filter(([name]) => !present.has(name));
  if (missing.length === 0) return;
  database.transaction(() => {
    for (const [name, definition] of missing) database.exec(`ALTER TABLE api_keys ADD COLUMN ${name} ${definition}`);
    // A database from before roles: its oldest key (the one printed at first start) becomes the admin.
    if (!present.has("role")) database.exec("UPDATE api_keys SET role = 'admin' WHERE id = (SELECT id FROM api_keys ORDER BY created_at LIMIT 1)");
  })();
}

export function createKeyStore(database: Database): KeyStore {
  migrate(database);
  const byPrefix = database.prepare<[string], Row>("SELECT * FROM api_keys WHERE prefix = ?");
  const byId = database.prepare<[string], Row>("SELECT * FROM api_keys WHERE id = ?");
  // `_` and `%` are LIKE wildcards, and key prefixes contain `_` (dg_…): they are escaped, not dropped.
  const byIdStart = database.prepare<[string, string], Row>("SELECT * FROM api_keys WHERE id LIKE ? ESCAPE '\\' OR prefix LIKE ? ESCAPE '\\' ORDER BY created_at LIMIT 10");
  const byName = database.prepare<[string], Row>("SELECT * FROM api_keys WHERE name = ? ORDER BY created_at LIMIT 10");
  const all = database.prepare<[], Row>("SELECT * FROM api_keys ORDER BY created_at, id");
  const countAll = database.prepare<[], { n: number }>("SELECT count(*) AS n FROM api_keys");
  const toRecord = (row: Row): ApiKeyRecord => ({
    id: row.id, name: row.name, prefix: row.prefix, role: row.role, createdAt: row.created_at, disabledAt: row.disabled_at,
    expiresAt: row.expires_at, allowedModels: row.allowed_models === null ? null : (JSON.parse(row.allowed_models) as string[]),
    rpm: row.rpm_limit, concurrency: row.concurrency_limit, dailyImages: row.daily_images, totalImages: row.total_images,
    dailySpendMicros: row.daily_spend_micros, totalSpendMicros: row.total_spend_micros, webhookUrl: row.webhook_url ?? null,
  });
  const column = (field: keyof KeyLimits, value: KeyLimits[keyof KeyLimits]) =>
    field === "allowedModels" ? (value === null ? null : JSON.stringify(value)) : value;
  const find = (secret: string): ApiKeyRecord | undefined => {
    const digest = hash(secret);
    let found: Row | undefined;
    for (const row of byPrefix.all(secret.slice(0, PREFIX_LENGTH))) {
      if (row.hash.length === digest.length && timingSafeEqual(row.hash, digest)) found = row;
    }
    return found ? toRecord(found) : undefined;
  };
  const get = (id: string) => {
    const row = byId.get(id);
    return row ? toRecord(row) : undefined;
  };
  return {
    create(key) {
      const secret = key.secret ?? newSecret();
      if (secret.length < 20) throw new Error("an API key must be at least 20 characters");
      const record: ApiKeyRecord = {
        id: randomUUID(), name: key.name, prefix: secret.slice(0, PREFIX_LENGTH), role: key.role ?? "user", createdAt: Date.now(), disabledAt: null,
        expiresAt: key.expiresAt ?? null, allowedModels: key.allowedModels ?? null, rpm: key.rpm ?? null, concurrency: key.concurrency ?? null,
        dailyImages: key.dailyImages ?? null, totalImages: key.totalImages ?? null, dailySpendMicros: key.dailySpendMicros ?? null,
        totalSpendMicros: key.totalSpendMicros ?? null, webhookUrl: key.webhookUrl ?? null,
      };
      const fields = Object.keys(LIMIT_COLUMNS) as Array<keyof KeyLimits>;
      database
        .prepare(`INSERT INTO api_keys (id, name, prefix, hash, role, created_at, ${fields.map((field) => LIMIT_COLUMNS[field]).join(", ")}) VALUES (?, ?, ?, ?, ?, ?, ${fields.map(() => "?").join(", ")})`)
        .run(record.id, record.name, record.prefix, hash(secret), record.role, record.createdAt, ...fields.map((field) => column(field, record[field])));
      return { record, secret };
    },
    check: (secret, now = Date.now()) => keyState(find(secret), now),
    checkId: (id, now = Date.now()) => keyState(get(id), now),
    findBySecret: find,
    get(reference) {
      const matches = this.matches(reference);
      return matches.length === 1 ? matches[0] : undefined;
    },
    matches(reference) {
      const exact = get(reference);
      if (exact) return [exact];
      const named = byName.all(reference);
      if (named.length > 0) return named.map(toRecord);
      if (reference.length < 4) return [];
      const pattern = `${reference.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
      return byIdStart.all(pattern, pattern).map(toRecord);
    },
    list: () => all.all().map(toRecord),
    update(id, patch) {
      const sets: string[] = [];
      const values: unknown[] = [];
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
      if (sets.length > 0) database.prepare(`UPDATE api_keys SET ${sets.join(", ")} WHERE id = ?`).run(...values, id);
      return get(id);
    },
    setDisabled(id, disabled, now = Date.now()) {
      database.prepare("UPDATE api_keys SET disabled_at = ? WHERE id = ?").run(disabled ? now : null, id);
      return get(id);
    },
    delete: (id) => database.prepare("DELETE FROM api_keys WHERE id = ?").run(id).changes > 0,
    webhookSecret(id) {
      const row = database.prepare<[string], { webhook_secret: string | null }>("SELECT webhook_secret FROM api_keys WHERE id = ?").get(id);
      if (row?.webhook_secret) return row.webhook_secret;
      const secret = `whsec_${randomBytes(32).toString("base64")}`;
      database.prepare("UPDATE api_keys SET webhook_secret = COALESCE(webhook_secret, ?) WHERE id = ?").run(secret, id);
      return database.prepare<[string], { webhook_secret: string | null }>("SELECT webhook_secret FROM api_keys WHERE id = ?").get(id)?.webhook_secret ?? secret;
    },
    count: () => countAll.get()?.n ?? 0,
  };
}

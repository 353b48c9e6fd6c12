/**
 * API keys in SQLite under `DATA_DIR`. Only a SHA-256 hash and a short prefix are stored; the secret is
 * shown once. Keys are 240 random bits, so a fast hash is enough; the compare is constant-time.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import type { Database } from "better-sqlite3";

export interface ApiKeyRecord {
  id: string;
  name: string;
  prefix: string;
  createdAt: number;
  disabledAt: number | null;
}

export interface KeyStore {
  create(name: string, secret?: string): { record: ApiKeyRecord; secret: string };
  /** The active key with this secret, or undefined. */
  verify(secret: string): ApiKeyRecord | undefined;
  count(): number;
  findBySecret(secret: string): ApiKeyRecord | undefined;
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
  created_at: number;
  disabled_at: number | null;
}

export function createKeyStore(database: Database): KeyStore {
  database.exec(`CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    disabled_at INTEGER
  );
  CREATE INDEX IF NOT EXISTS api_keys_prefix ON api_keys (prefix);`);
  const insert = database.prepare("INSERT INTO api_keys (id, name, prefix, hash, created_at) VALUES (?, ?, ?, ?, ?)");
  const byPrefix = database.prepare<[string], Row>("SELECT * FROM api_keys WHERE prefix = ?");
  const countAll = database.prepare<[], { n: number }>("SELECT count(*) AS n FROM api_keys");
  const toRecord = (row: Row): ApiKeyRecord => ({ id: row.id, name: row.name, prefix: row.prefix, createdAt: row.created_at, disabledAt: row.disabled_at });
  const find = (secret: string): ApiKeyRecord | undefined => {
    const digest = hash(secret);
    let found: Row | undefined;
    for (const row of byPrefix.all(secret.slice(0, PREFIX_LENGTH))) {
      if (row.hash.length === digest.length && timingSafeEqual(row.hash, digest)) found = row;
    }
    return found ? toRecord(found) : undefined;
  };
  return {
    create(name, secret = newSecret()) {
      if (secret.length < 20) throw new Error("an API key must be at least 20 characters");
      const record: ApiKeyRecord = { id: randomUUID(), name, prefix: secret.slice(0, PREFIX_LENGTH), createdAt: Date.now(), disabledAt: null };
      insert.run(record.id, record.name, record.prefix, hash(secret), record.createdAt);
      return { record, secret };
    },
    verify(secret) {
      const record = find(secret);
      return record && record.disabledAt === null ? record : undefined;
    },
    findBySecret: find,
    count: () => countAll.get()?.n ?? 0,
  };
}

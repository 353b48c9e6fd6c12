/**
 * The usage ledger: one row per request, and the quotas it feeds.
 *
 * A request first reserves the images (and their cost) it may produce, in one IMMEDIATE transaction that
 * also checks the key's quotas against what was settled plus what other requests hold reserved — so two
 * concurrent requests cannot both take the last image. It then records the storage keys it is about to
 * write (before writing them), and is settled by what it delivered: charged exactly when images were
 * delivered or stored for the client. A row still `reserved` when the process starts belongs to a request
 * that died mid-way: `recover` deletes its files and settles it uncharged, so no stored image lacks a
 * charged record and no charged record lacks its images.
 */
import type { UsageReportRow } from "@doubao-gateway/sdk";
import type { Database } from "better-sqlite3";
import type { KeyLimits } from "../stores/keys.js";

export interface Reservation {
  id: string;
  keyId: string;
  keyName: string;
  model: string;
  endpoint: string;
  images: number;
  costMicros: number;
  /** Reference images sent with the request. */
  referenceImages: number;
  /** The gateway instance that admitted it (crash recovery leaves a live instance's rows alone). */
  instanceId: string | null;
  createdAt: number;
  /** `YYYY-MM-DD` in the usage time zone. */
  day: string;
}

export interface Settlement {
  status: number;
  /** The model that made the images (a retired model's replacement, or the one asked for); null when none was made. */
  servedModel: string | null;
  images: number;
  outputTokens: number;
  costMicros: number;
  provider: string | null;
  upstreamRequestId: string | null;
  latencyMs: number;
  errorCode: string | null;
}

export type QuotaKind = "totalImages" | "dailyImages" | "totalSpend" | "dailySpend";

export class QuotaRefusal extends Error {
  constructor(readonly kind: QuotaKind, readonly limit: number, readonly used: number, readonly inFlight: number, readonly asked: number) {
    super(kind);
  }
}

/** A row of the report as the ledger sums it: the SDK's row, with the cost in exact micro-units. */
export type UsageRow = Omit<UsageReportRow, "cost"> & { cost_micros: number };

export type UsageDimension = "key" | "model" | "day";

export interface UsageQuery {
  since: string;
  until: string;
  by: readonly UsageDimension[];
  keyId?: string;
}

export interface LedgerRecord {
  id: string;
  key_id: string;
  model: string;
  served_model: string | null;
  reference_images: number;
  state: "reserved" | "settled";
  status: number | null;
  images: number;
  charged: number;
  cost_micros: number;
  files: string | null;
  error_code: string | null;
  day: string;
}

export interface Ledger {
  /** Checks the quotas and records the reservation, atomically; throws QuotaRefusal. */
  reserve(reservation: Reservation, limits: KeyLimits): void;
  /** Adds storage keys to the request's row before the bytes are written. */
  recordFiles(id: string, keys: readonly string[]): void;
  settle(id: string, settlement: Settlement): void;
  /** Rows still `reserved` (requests in flight, or left by a process that died), with their instance; their files' keys. */
  interrupted(): Array<{ id: string; files: string[]; instanceId: string | null; createdAt: number }>;
  get(id: string): LedgerRecord | undefined;
  report(query: UsageQuery): UsageRow[];
  /** Charged images and cost of a key: in total and on a day. */
  spent(keyId: string, day: string): { totalImages: number; dailyImages: number; totalMicros: number; dailyMicros: number };
}

interface Sums {
  images: number;
  micros: number;
  dayImages: number;
  dayMicros: number;
}
const NO_SUMS: Sums = { images: 0, micros: 0, dayImages: 0, dayMicros: 0 };

export function createLedger(database: Database): Ledger {
  database.exec(`CREATE TABLE IF NOT EXISTS usage (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    key_name TEXT NOT NULL,
    model TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    provider TEXT,
    state TEXT NOT NULL CHECK (state IN ('reserved', 'settled')),
    reserved_images INTEGER NOT NULL,
    reserved_micros INTEGER NOT NULL,
    status INTEGER,
    images INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    upstream_request_id TEXT,
    latency_ms INTEGER,
    cost_micros INTEGER NOT NULL DEFAULT 0,
    charged INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    files TEXT,
    created_at INTEGER NOT NULL,
    day TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS usage_key_day ON usage (key_id, day);
  CREATE INDEX IF NOT EXISTS usage_day ON usage (day);
  CREATE INDEX IF NOT EXISTS usage_reserved ON usage (key_id) WHERE state = 'reserved';
  CREATE TABLE IF NOT EXISTS usage_daily (
    key_id TEXT NOT NULL,
    day TEXT NOT NULL,
    images INTEGER NOT NULL,
    cost_micros INTEGER NOT NULL,
    PRIMARY KEY (key_id, day)
  );`);
  // Columns added after the first release: a database made by an older version gets them here.
  const columns = new Set(database.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('usage')").all().map((column) => column.name));
  if (!columns.has("served_model")) database.exec("ALTER TABLE usage ADD COLUMN served_model TEXT");
  if (!columns.has("reference_images")) database.exec("ALTER TABLE usage ADD COLUMN reference_images INTEGER NOT NULL DEFAULT 0");
  if (!columns.has("instance_id")) database.exec("ALTER TABLE usage ADD COLUMN instance_id TEXT");

  // Both reads cover a key's total and one day in one pass: settled usage from the daily roll-up (a row per
  // key and day), reservations from the partial index of rows still reserved (the requests in flight).
  const settledSums = database.prepare<[string, string, string], Sums>(
    `SELECT COALESCE(SUM(images), 0) AS images, COALESCE(SUM(cost_micros), 0) AS micros,
            COALESCE(SUM(CASE WHEN day = ? THEN images END), 0) AS dayImages, COALESCE(SUM(CASE WHEN day = ? THEN cost_micros END), 0) AS dayMicros
     FROM usage_daily WHERE key_id = ?`,
  );
  const reservedSums = database.prepare<[string, string, string], Sums>(
    `SELECT COALESCE(SUM(reserved_images), 0) AS images, COALESCE(SUM(reserved_micros), 0) AS micros,
            COALESCE(SUM(CASE WHEN day = ? THEN reserved_images END), 0) AS dayImages, COALESCE(SUM(CASE WHEN day = ? THEN reserved_micros END), 0) AS dayMicros
     FROM usage INDEXED BY usage_reserved WHERE key_id = ? AND state = 'reserved'`,
  );
  const insert = database.prepare(
    `INSERT INTO usage (id, key_id, key_name, model, endpoint, state, reserved_images, reserved_micros, reference_images, instance_id, created_at, day, files)
     VALUES (@id, @keyId, @keyName, @model, @endpoint, 'reserved', @images, @costMicros, @referenceImages, @instanceId, @createdAt, @day, '[]')`,
  );
  const filesOf = database.prepare<[string], { files: string | null }>("SELECT files FROM usage WHERE id = ?");
  const setFiles = database.prepare("UPDATE usage SET files = ? WHERE id = ?");
  const settleRow = database.prepare(
    `UPDATE usage SET state = 'settled', status = @status, images = @images, output_tokens = @outputTokens, cost_micros = @costMicros,
       charged = @charged, served_model = @servedModel, provider = @provider, upstream_request_id = @upstreamRequestId, latency_ms = @latencyMs, error_code = @errorCode
     WHERE id = @id AND state = 'reserved'`,
  );
  const rowOf = database.prepare<[string], LedgerRecord & { key_id: string; day: string }>("SELECT * FROM usage WHERE id = ?");
  const addDaily = database.prepare(
    `INSERT INTO usage_daily (key_id, day, images, cost_micros) VALUES (?, ?, ?, ?)
     ON CONFLICT (key_id, day) DO UPDATE SET images = images + excluded.images, cost_micros = cost_micros + excluded.cost_micros`,
  );
  const leftReserved = database.prepare<[], { id: string; files: string | null; instance_id: string | null; created_at: number }>(
    "SELECT id, files, instance_id, created_at FROM usage WHERE state = 'reserved'",
  );

  const reserve = database.transaction((reservation: Reservation, limits: KeyLimits) => {
    const settled = settledSums.get(reservation.day, reservation.day, reservation.keyId) ?? NO_SUMS;
    const reserved = reservedSums.get(reservation.day, reservation.day, reservation.keyId) ?? NO_SUMS;
    const checks: Array<[QuotaKind, number | null, number, number, number]> = [
      ["totalImages", limits.totalImages, settled.images, reserved.images, reservation.images],
      ["dailyImages", limits.dailyImages, settled.dayImages, reserved.dayImages, reservation.images],
      ["totalSpend", limits.totalSpendMicros, settled.micros, reserved.micros, reservation.costMicros],
      ["dailySpend", limits.dailySpendMicros, settled.dayMicros, reserved.dayMicros, reservation.costMicros],
    ];
    for (const [kind, limit, used, inFlight, asked] of checks) {
      if (limit !== null && used + inFlight + asked > limit) throw new QuotaRefusal(kind, limit, used, inFlight, asked);
    }
    insert.run(reservation);
  });

  const appendFiles = database.transaction((id: string, keys: readonly string[]) => {
    const current = JSON.parse(filesOf.get(id)?.files ?? "[]") as string[];
    setFiles.run(JSON.stringify([...current, ...keys]), id);
  });

  const settle = database.transaction((id: string, settlement: Settlement) => {
    const row = rowOf.get(id);
    if (!row || row.state !== "reserved") return;
    const charged = settlement.images > 0 ? 1 : 0;
    settleRow.run({ id, ...settlement, costMicros: charged ? settlement.costMicros : 0, charged });
    if (charged) addDaily.run(row.key_id, row.day, settlement.images, settlement.costMicros);
  });

  const dimensions: Record<UsageDimension, string[]> = { key: ["key_id", "MAX(key_name) AS key_name"], model: ["model"], day: ["day"] };
  const groupColumns: Record<UsageDimension, string> = { key: "key_id", model: "model", day: "day" };

  return {
    reserve: (reservation, limits) => reserve.immediate(reservation, limits),
    recordFiles: (id, keys) => appendFiles.immediate(id, keys),
    settle: (id, settlement) => settle.immediate(id, settlement),
    interrupted: () => leftReserved.all().map((row) => ({ id: row.id, files: JSON.parse(row.files ?? "[]") as string[], instanceId: row.instance_id, createdAt: row.created_at })),
    get: (id) => rowOf.get(id),
    report(query) {
      const select = query.by.flatMap((dimension) => dimensions[dimension]);
      const group = query.by.map((dimension) => groupColumns[dimension]);
      const sql =
        `SELECT ${[...select, "COUNT(*) AS requests", "SUM(charged) AS charged_requests", "SUM(images) AS images", "SUM(output_tokens) AS output_tokens", "SUM(cost_micros) AS cost_micros"].join(", ")}
         FROM usage WHERE state = 'settled' AND day >= ? AND day <= ?${query.keyId ? " AND key_id = ?" : ""}` +
        (group.length ? ` GROUP BY ${group.join(", ")} ORDER BY ${group.join(", ")}` : "");
      const parameters = query.keyId ? [query.since, query.until, query.keyId] : [query.since, query.until];
      const rows = database.prepare<unknown[], UsageRow>(sql).all(...parameters);
      return rows.filter((row) => row.requests > 0);
    },
    spent(keyId, day) {
      const settled = settledSums.get(day, day, keyId) ?? NO_SUMS;
      return { totalImages: settled.images, dailyImages: settled.dayImages, totalMicros: settled.micros, dailyMicros: settled.dayMicros };
    },
  };
}

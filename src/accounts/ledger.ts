/**
 * The usage ledger: one row per request, and the quotas it feeds.
 *
 * A request first reserves the images (and their cost) it may produce; for a key with a quota, in one
 * transaction serial per key that also checks the quotas against what was settled plus what other requests
 * hold reserved — so two concurrent requests, even on two processes, cannot both take the last image. It then
 * records the storage keys it is about to write (before writing them), and is settled by what it delivered:
 * charged exactly when images were delivered or stored for the client. A row still `reserved` whose instance died
 * belongs to a request that died mid-way: `recover` settles it uncharged and deletes its files, so no charged record
 * lacks its images.
 */
import type { RecentRequest, UsageReportRow } from "@doubao-gateway/sdk";
import { groupCommit } from "../stores/group-commit.js";
import type { SqlDatabase, SqlRunner, SqlValue } from "../stores/sql/types.js";
import { isPartUnavailable } from "../errors/errors.js";
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

/** A row of `GET /admin/requests` as the ledger stores it: the SDK's row, with the time in ms and the cost in micro-units. */
export type RecentRow = Omit<RecentRequest, "cost" | "created_at"> & { cost_micros: number; created_at: number };

export interface Ledger {
  /** Checks the quotas and records the reservation, atomically; throws QuotaRefusal. */
  reserve(reservation: Reservation, limits: KeyLimits): Promise<void>;
  /** Adds storage keys to the request's row before the bytes are written. */
  recordFiles(id: string, keys: readonly string[]): Promise<void>;
  /** Settles a reserved row (once: a second settle of the same row changes nothing); resolves to whether this call settled it. */
  settle(id: string, settlement: Settlement): Promise<boolean>;
  /** Rows still `reserved` (requests in flight, or left by a process that died), with their instance; their files' keys. */
  interrupted(): Promise<Array<{ id: string; files: string[]; instanceId: string | null; createdAt: number }>>;
  get(id: string): Promise<LedgerRecord | undefined>;
  report(query: UsageQuery): Promise<UsageRow[]>;
  /** The newest rows (reserved and settled), newest first; of one key when given. */
  recent(limit: number, keyId?: string): Promise<RecentRow[]>;
  /** Charged images and cost of a key: in total and on a day. */
  spent(keyId: string, day: string): Promise<{ totalImages: number; dailyImages: number; totalMicros: number; dailyMicros: number }>;
}

interface Sums {
  images: number;
  micros: number;
  day_images: number;
  day_micros: number;
}
interface Held {
  held_images: number;
  held_micros: number;
  held_day_images: number;
  held_day_micros: number;
}

/** Creates the tables, or adds what an older version's lack. */
export async function migrateLedger(database: SqlRunner): Promise<void> {
  await database.exec(`CREATE TABLE IF NOT EXISTS usage (
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
  CREATE INDEX IF NOT EXISTS usage_created ON usage (created_at);
  CREATE INDEX IF NOT EXISTS usage_reserved ON usage (key_id) WHERE state = 'reserved';
  CREATE TABLE IF NOT EXISTS usage_daily (
    key_id TEXT NOT NULL,
    day TEXT NOT NULL,
    images INTEGER NOT NULL,
    cost_micros INTEGER NOT NULL,
    PRIMARY KEY (key_id, day)
  );
  CREATE TABLE IF NOT EXISTS usage_held (
    key_id TEXT NOT NULL,
    day TEXT NOT NULL,
    images INTEGER NOT NULL,
    micros INTEGER NOT NULL,
    PRIMARY KEY (key_id, day)
  );`);
  // Columns added after the first release: a database made by an older version gets them here.
  const columns = await database.columns("usage");
  if (!columns.has("served_model")) await database.exec("ALTER TABLE usage ADD COLUMN served_model TEXT");
  if (!columns.has("reference_images")) await database.exec("ALTER TABLE usage ADD COLUMN reference_images INTEGER NOT NULL DEFAULT 0");
  if (!columns.has("instance_id")) await database.exec("ALTER TABLE usage ADD COLUMN instance_id TEXT");
  // 1 when the reservation is counted in usage_held (a key with a quota), so its settle releases it.
  if (!columns.has("held")) await database.exec("ALTER TABLE usage ADD COLUMN held INTEGER NOT NULL DEFAULT 0");
}

const hasQuota = (limits: KeyLimits) => limits.totalImages !== null || limits.dailyImages !== null || limits.totalSpendMicros !== null || limits.dailySpendMicros !== null;

export function createLedger(database: SqlDatabase): Ledger {
  // Both reads cover a key's total and one day in one pass: settled usage from the daily roll-up (a row per
  // key and day), reservations from the partial index of rows still reserved (the requests in flight).
  const SETTLED_SUMS = `SELECT COALESCE(SUM(images), 0) AS images, COALESCE(SUM(cost_micros), 0) AS micros,
            COALESCE(SUM(CASE WHEN day = ? THEN images END), 0) AS day_images, COALESCE(SUM(CASE WHEN day = ? THEN cost_micros END), 0) AS day_micros
     FROM usage_daily WHERE key_id = ?`;
  // What requests in flight hold, for keys with a quota: two rows a key (its total, day '*', and one day), grown by a
  // reservation and shrunk by its settle in the same transactions — so a check costs the same however many are in
  // flight. Read in the same statement as the roll-up, so that both come from one snapshot: a settle committing
  // between two reads (PostgreSQL reads each statement's own snapshot) would otherwise drop out of both.
  const QUOTA_SUMS = `SELECT settled.*, held.* FROM (${SETTLED_SUMS}) AS settled CROSS JOIN (
       SELECT COALESCE(SUM(CASE WHEN day = '*' THEN images END), 0) AS held_images, COALESCE(SUM(CASE WHEN day = '*' THEN micros END), 0) AS held_micros,
              COALESCE(SUM(CASE WHEN day = ? THEN images END), 0) AS held_day_images, COALESCE(SUM(CASE WHEN day = ? THEN micros END), 0) AS held_day_micros
       FROM usage_held WHERE key_id = ? AND day IN ('*', ?)) AS held`;
  const INSERT = `INSERT INTO usage (id, key_id, key_name, model, endpoint, state, reserved_images, reserved_micros, reference_images, instance_id, created_at, day, files, held)
     VALUES (?, ?, ?, ?, ?, 'reserved', ?, ?, ?, ?, ?, ?, '[]', ?)`;
  const HOLD = `INSERT INTO usage_held (key_id, day, images, micros) VALUES (?, ?, ?, ?), (?, '*', ?, ?)
     ON CONFLICT (key_id, day) DO UPDATE SET images = usage_held.images + excluded.images, micros = usage_held.micros + excluded.micros`;
  const SETTLE = `UPDATE usage SET state = 'settled', status = ?, images = ?, output_tokens = ?, cost_micros = ?, charged = ?, served_model = ?, provider = ?,
       upstream_request_id = ?, latency_ms = ?, error_code = ?
     WHERE id = ? AND state = 'reserved'`;
  const ROLL_UP = "ON CONFLICT (key_id, day) DO UPDATE SET images = usage_daily.images + excluded.images, cost_micros = usage_daily.cost_micros + excluded.cost_micros";
  const RELEASE = "UPDATE usage_held SET images = usage_held.images - s.reserved_images, micros = usage_held.micros - s.reserved_micros";
  const PG_SETTLE = `WITH settled AS (${SETTLE} RETURNING key_id, day, reserved_images, reserved_micros, held),
       daily AS (INSERT INTO usage_daily (key_id, day, images, cost_micros) SELECT key_id, day, ?, ? FROM settled WHERE ? = 1 ${ROLL_UP}),
       released AS (${RELEASE} FROM settled AS s WHERE s.held = 1 AND usage_held.key_id = s.key_id AND usage_held.day IN ('*', s.day))
     SELECT COUNT(*) AS n FROM settled`;
  // SQLite, before the settle itself and in the same synchronous transaction: the row's hold released and its charge
  // rolled up, each only while the row is still reserved.
  const SQLITE_RELEASE = `${RELEASE} FROM (SELECT key_id, day, reserved_images, reserved_micros FROM usage WHERE id = ? AND state = 'reserved' AND held = 1) AS s
     WHERE usage_held.key_id = s.key_id AND usage_held.day IN ('*', s.day)`;
  const ADD_DAILY = `INSERT INTO usage_daily (key_id, day, images, cost_micros) SELECT key_id, day, ?, ? FROM usage WHERE id = ? AND state = 'reserved' AND ? = 1 ${ROLL_UP}`;

  // PostgreSQL, group-committed (stores/group-commit.ts): the reservations of keys without a quota, and the settles,
  // that queue while one statement of their kind is in flight go together as the next — one statement over arrays
  // (unnest), whatever their number. The settle is PG_SETTLE over many rows: the roll-up and the holds grouped by row
  // first (one statement cannot update a row twice), and it answers the ids it moved out of `reserved`.
  const PG_INSERT_MANY = `INSERT INTO usage (id, key_id, key_name, model, endpoint, state, reserved_images, reserved_micros, reference_images, instance_id, created_at, day, files, held)
     SELECT id, key_id, key_name, model, endpoint, 'reserved', reserved_images, reserved_micros, reference_images, instance_id, created_at, day, '[]', 0
     FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::text[], ?::bigint[], ?::text[])
       AS r(id, key_id, key_name, model, endpoint, reserved_images, reserved_micros, reference_images, instance_id, created_at, day)`;
  const PG_SETTLE_MANY = `WITH input AS (
       SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[], ?::bigint[])
         AS i(status, images, output_tokens, cost_micros, charged, served_model, provider, upstream_request_id, latency_ms, error_code, id, spent_micros)),
     settled AS (UPDATE usage SET state = 'settled', status = i.status, images = i.images, output_tokens = i.output_tokens, cost_micros = i.cost_micros,
         charged = i.charged, served_model = i.served_model, provider = i.provider, upstream_request_id = i.upstream_request_id, latency_ms = i.latency_ms,
         error_code = i.error_code
       FROM input AS i WHERE usage.id = i.id AND usage.state = 'reserved'
       RETURNING usage.id, usage.key_id, usage.day, usage.reserved_images, usage.reserved_micros, usage.held, i.charged, i.images AS spent_images, i.spent_micros),
     daily AS (INSERT INTO usage_daily (key_id, day, images, cost_micros)
       SELECT key_id, day, SUM(spent_images), SUM(spent_micros) FROM settled WHERE charged = 1 GROUP BY key_id, day ORDER BY key_id, day ${ROLL_UP}),
     released AS (${RELEASE} FROM (SELECT s.key_id, d.day, SUM(s.reserved_images) AS reserved_images, SUM(s.reserved_micros) AS reserved_micros
         FROM settled AS s CROSS JOIN LATERAL (VALUES (s.day), ('*')) AS d(day) WHERE s.held = 1 GROUP BY s.key_id, d.day) AS s
       WHERE usage_held.key_id = s.key_id AND usage_held.day = s.day)
     SELECT id FROM settled`;
  // A batch that fails for its own sake (not the database being away) is told again call by call, so that one row's
  // fault (a deadlock lost to another gateway, an id twice) is that call's alone.
  const each = async <T, R>(items: readonly T[], many: (items: readonly T[]) => Promise<R[]>, one: (item: T) => Promise<R>): Promise<Array<PromiseSettledResult<R>>> => {
    if (items.length > 1) {
      try {
        return (await many(items)).map((value) => ({ status: "fulfilled", value }));
      } catch (error) {
        if (isPartUnavailable(error)) throw error;
      }
    }
    return Promise.allSettled(items.map(one));
  };
  // The batched statements take the one-row statements' values, a row per call, turned into a column (an array) per value.
  const columns = (rows: ReadonlyArray<readonly unknown[]>) => (rows[0] ?? []).map((_, index) => rows.map((row) => row[index]) as unknown as SqlValue);
  const reserveOne = async (reservation: Reservation) => void (await database.batch([[INSERT, insertOf(reservation, 0)]]));
  const reserveGrouped = groupCommit<Reservation, void>((items) =>
    each(items, async (rows) => {
      // INSERT's values less `held` (0 for every reservation of a key without a quota).
      await database.run(PG_INSERT_MANY, columns(rows.map((row) => insertOf(row, 0).slice(0, -1))));
      return rows.map(() => undefined);
    }, reserveOne),
  );
  type SettleCall = { id: string; settlement: Settlement };
  const chargedOf = (settlement: Settlement) => (settlement.images > 0 ? 1 : 0);
  const settleValues = ({ id, settlement }: SettleCall) => {
    const charged = chargedOf(settlement);
    return [
      settlement.status, settlement.images, settlement.outputTokens, charged ? settlement.costMicros : 0, charged, settlement.servedModel, settlement.provider,
      settlement.upstreamRequestId, settlement.latencyMs, settlement.errorCode, id,
    ];
  };
  const settleOne = async (call: SettleCall) => {
    const row = await database.get<{ n: number }>(PG_SETTLE, [...settleValues(call), call.settlement.images, call.settlement.costMicros, chargedOf(call.settlement)]);
    return (row?.n ?? 0) > 0;
  };
  const settleGrouped = groupCommit<SettleCall, boolean>(
    (calls) =>
      each(calls, async (rows) => {
        // SETTLE's values, then what the roll-up adds when charged (the images are among them already).
        const moved = await database.all<{ id: string }>(PG_SETTLE_MANY, columns(rows.map((call) => [...settleValues(call), call.settlement.costMicros])));
        const ids = new Set(moved.map((row) => row.id));
        return rows.map((call) => ids.has(call.id));
      }, settleOne),
    { keyOf: (call) => call.id },
  );

  const insertOf = (reservation: Reservation, held: 0 | 1) => [
    reservation.id, reservation.keyId, reservation.keyName, reservation.model, reservation.endpoint, reservation.images, reservation.costMicros,
    reservation.referenceImages, reservation.instanceId, reservation.createdAt, reservation.day, held,
  ];

  const dimensions: Record<UsageDimension, string[]> = { key: ["key_id", "MAX(key_name) AS key_name"], model: ["model"], day: ["day"] };
  const groupColumns: Record<UsageDimension, string> = { key: "key_id", model: "model", day: "day" };

  return {
    async reserve(reservation, limits) {
      // A key without a quota has nothing to check: one INSERT, whatever else is in flight.
      if (!hasQuota(limits)) return database.dialect === "postgres" ? reserveGrouped(reservation) : void (await database.batch([[INSERT, insertOf(reservation, 0)]]));
      // With one, the check and the insert are one transaction, serial per key (across processes on PostgreSQL):
      // two requests cannot both take the last image.
      await database.transaction(async (tx) => {
        await tx.lock(`quota:${reservation.keyId}`);
        const { keyId, day } = reservation;
        // Sums over no rows are one row of zeros: the answer is always there.
        const held = (await tx.get<Sums & Held>(QUOTA_SUMS, [day, day, keyId, day, day, keyId, day])) as Sums & Held;
        const checks: Array<[QuotaKind, number | null, number, number, number]> = [
          ["totalImages", limits.totalImages, held.images, held.held_images, reservation.images],
          ["dailyImages", limits.dailyImages, held.day_images, held.held_day_images, reservation.images],
          ["totalSpend", limits.totalSpendMicros, held.micros, held.held_micros, reservation.costMicros],
          ["dailySpend", limits.dailySpendMicros, held.day_micros, held.held_day_micros, reservation.costMicros],
        ];
        for (const [kind, limit, used, inFlight, asked] of checks) {
          if (limit !== null && used + inFlight + asked > limit) throw new QuotaRefusal(kind, limit, used, inFlight, asked);
        }
        await tx.run(INSERT, insertOf(reservation, 1));
        await tx.run(HOLD, [keyId, day, reservation.images, reservation.costMicros, keyId, reservation.images, reservation.costMicros]);
      });
    },
    // One statement, the same on both backends: the JSON array of keys is extended as text (storage keys hold no
    // brackets or quotes to escape), so it needs no read first and joins SQLite's group commit.
    recordFiles: async (id, keys) => {
      if (keys.length === 0) return;
      await database.batch([[
        "UPDATE usage SET files = CASE WHEN files IS NULL OR files = '[]' THEN ? ELSE rtrim(files, ']') || ',' || ltrim(?, '[') END WHERE id = ?",
        [JSON.stringify(keys), JSON.stringify(keys), id],
      ]]);
    },
    async settle(id, settlement) {
      // The row moves out of `reserved` once, and its hold is released and the daily roll-up grows in the same
      // transaction, only then: on PostgreSQL one statement (the UPDATE locks the row, so a concurrent settle finds it
      // settled), group-committed with the settles in flight beside it; on SQLite three statements in one synchronous
      // transaction, each conditioned on the row still reserved.
      if (database.dialect === "postgres") return settleGrouped({ id, settlement });
      const changes = await database.batch([[SQLITE_RELEASE, [id]], [ADD_DAILY, [settlement.images, settlement.costMicros, id, chargedOf(settlement)]], [SETTLE, settleValues({ id, settlement })]]);
      return changes[2] === 1;
    },
    interrupted: async () =>
      (await database.all<{ id: string; files: string | null; instance_id: string | null; created_at: number }>("SELECT id, files, instance_id, created_at FROM usage WHERE state = 'reserved'")).map(
        (row) => ({ id: row.id, files: JSON.parse(row.files ?? "[]") as string[], instanceId: row.instance_id, createdAt: row.created_at }),
      ),
    get: (id) => database.get<LedgerRecord>("SELECT * FROM usage WHERE id = ?", [id]),
    async report(query) {
      const select = query.by.flatMap((dimension) => dimensions[dimension]);
      const group = query.by.map((dimension) => groupColumns[dimension]);
      const sql =
        `SELECT ${[...select, "COUNT(*) AS requests", "SUM(charged) AS charged_requests", "SUM(images) AS images", "SUM(output_tokens) AS output_tokens", "SUM(cost_micros) AS cost_micros"].join(", ")}
         FROM usage WHERE state = 'settled' AND day >= ? AND day <= ?${query.keyId ? " AND key_id = ?" : ""}` +
        (group.length ? ` GROUP BY ${group.join(", ")} ORDER BY ${group.join(", ")}` : "");
      const parameters = query.keyId ? [query.since, query.until, query.keyId] : [query.since, query.until];
      const rows = await database.all<UsageRow>(sql, parameters);
      return rows.filter((row) => row.requests > 0);
    },
    recent: (limit, keyId) =>
      database.all<RecentRow>(
        `SELECT id, created_at, key_id, key_name, model, served_model, endpoint, provider, state, status, images, latency_ms, cost_micros, error_code
         FROM usage${keyId ? " WHERE key_id = ?" : ""} ORDER BY created_at DESC, id DESC LIMIT ?`,
        keyId ? [keyId, limit] : [limit],
      ),
    async spent(keyId, day) {
      const settled = (await database.get<Sums>(SETTLED_SUMS, [day, day, keyId])) as Sums;
      return { totalImages: settled.images, dailyImages: settled.day_images, totalMicros: settled.micros, dailyMicros: settled.day_micros };
    },
  };
}

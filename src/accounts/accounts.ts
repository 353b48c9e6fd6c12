/**
 * Who may spend what, enforced before any upstream call, and the record of what was spent.
 *
 * `admit` runs, in order: the model allow-list (403 -10013), the request rate (429, Retry-After), the
 * concurrency (429, Retry-After), then the image and spend quotas, reserved atomically in the ledger
 * (429 -10006 total / -10007 daily). The returned Admission follows the request: it re-checks the key
 * before every upstream attempt (a revoked key stops there), records the files it is about to store,
 * settles by what was delivered, and releases the concurrency slot before the response goes out.
 */
import { ClientGone, GatewayError, keyRefused, modelNotAllowed, quotaExceeded, rateLimited } from "../errors/errors.js";
import type { BlobStorage } from "../storage/types.js";
import type { ApiKeyRecord, KeyStore } from "../stores/keys.js";
import { dayOf, secondsToMidnight } from "./clock.js";
import { createLedger, QuotaRefusal, type Ledger, type QuotaKind } from "./ledger.js";
import { memoryLimits, type SharedLimits } from "./limits.js";
import { fromMicros, type PriceTable } from "./prices.js";
import type { SqlDatabase } from "../stores/sql/types.js";
import { createDurableWrites, type DurableWrites } from "../stores/durable.js";
import type { Settlement } from "./ledger.js";

export interface AccountsOptions {
  prices: PriceTable;
  /** IANA name; daily quotas reset at its midnight. */
  timeZone: string;
  now?: () => number;
  /** Told of every settled request with images (metrics): the model asked for, the images charged. */
  onCharged?: (model: string, images: number) => void;
  /** Rate and concurrency counters; default this process's memory. */
  limits?: SharedLimits;
  /** This gateway instance's id, recorded on each ledger row (recovery leaves a live instance's rows alone). */
  instanceId?: string;
  /** Where a settle waits while the database is away (journalled, retried); memory only when absent. */
  durable?: DurableWrites;
  log?: { warn(object: Record<string, unknown>, message: string): void };
}

export interface Delivered {
  status: number;
  /** The model that made the images, when it is not the one admitted (a retired model's replacement). */
  servedModel?: string;
  images: number;
  outputTokens: number;
  provider: string | null;
  upstreamRequestId: string | null;
  errorCode: string | null;
}

export interface Admission {
  readonly id: string;
  readonly key: ApiKeyRecord;
  /** Throws a 401 when the key was disabled, deleted or expired since the request came in. */
  checkKey(): Promise<void>;
  recordFiles(keys: readonly string[]): Promise<void>;
  settle(delivered: Delivered): Promise<void>;
  /** Settles a failed request uncharged and deletes anything it stored. */
  fail(error: unknown): Promise<void>;
  /** Frees the concurrency slot (once; later calls do nothing); resolves when every process sees it free. */
  release(): void | Promise<void>;
}

/** The durable write kind of a request's settle or release. */
const SETTLE_WRITE = "ledger.settle";

export class Accounts {
  readonly ledger: Ledger;
  /** Rate and concurrency counters: this process's, or Redis's shared by every gateway. */
  private readonly limits: SharedLimits;
  /** The accounts' clock (injectable for tests of expiry and daily resets). */
  readonly now: () => number;
  /** Settles and releases that must land although the database is away when they are due. */
  readonly durable: DurableWrites;
  /**
   * Requests of this process between their reservation and their final write (done or journalled): a `reserved` row of
   * this instance that is not here belongs to a request that ended without settling it (a reservation whose reply was
   * lost), and recovery settles it uncharged while this gateway runs.
   */
  private readonly inFlight = new Set<string>();

  constructor(
    database: SqlDatabase,
    private readonly keys: KeyStore,
    private readonly storage: BlobStorage,
    readonly options: AccountsOptions,
  ) {
    this.ledger = createLedger(database);
    this.limits = options.limits ?? memoryLimits();
    this.now = options.now ?? Date.now;
    this.durable = options.durable ?? createDurableWrites();
    this.durable.register(SETTLE_WRITE, (id, payload) => this.finalWrite(id, payload.settlement as Settlement));
  }

  /**
   * A request's last word in the ledger, run again until it lands (stores/durable.ts): the row settled once, then read
   * back when this call did not settle it (its reply was lost before, or recovery got there first). A request that made
   * nothing loses whatever files it recorded.
   */
  private async finalWrite(id: string, settlement: Settlement): Promise<void> {
    const mine = await this.ledger.settle(id, settlement);
    if (settlement.images > 0) {
      if (!mine && (await this.ledger.get(id))?.charged === 0) {
        this.options.log?.warn({ requestId: id, images: settlement.images }, "a request's images were delivered, but its row had been settled uncharged (its instance was taken for dead)");
      }
      return;
    }
    // The files the row recorded before they were written: whatever of them exists goes.
    const row = await this.ledger.get(id);
    if (!row || row.charged === 1) return;
    await Promise.all((JSON.parse(row.files ?? "[]") as string[]).map((file) => this.storage.delete(file)));
  }

  /** The price table of a reloaded GATEWAY_CONFIG: requests admitted from now on are priced by it. */
  setPrices(prices: PriceTable): void {
    this.options.prices = prices;
  }

  today(): string {
    return dayOf(this.now(), this.options.timeZone);
  }

  priceMicros(model: string): number {
    return this.options.prices.perImageMicros[model] ?? 0;
  }

  /**
   * `images` is the most the request may make (a group's `max_images`); `servedModel` the model whose price
   * applies (a retired model's replacement); `referenceImages` is recorded.
   */
  async admit(key: ApiKeyRecord, request: { id: string; model: string; endpoint: string; images: number; servedModel?: string; referenceImages?: number }): Promise<Admission> {
    const priced = request.servedModel ?? request.model;
    if (key.allowedModels && !key.allowedModels.includes(request.model)) throw modelNotAllowed(request.model, key.allowedModels);
    const now = this.now();
    // A key without a limit costs no round trip to the counters; one with limits costs one.
    let release: () => void | Promise<void> = () => undefined;
    if (key.concurrency !== null || key.rpm !== null) {
      const room = await this.limits.admit(key.id, { ...(key.concurrency !== null ? { concurrency: key.concurrency } : {}), ...(key.rpm !== null ? { requests: key.rpm } : {}) }, now);
      if (!room.ok) {
        throw room.limit === "concurrency" ? rateLimited("concurrency", key.concurrency as number, 1) : rateLimited("rpm", key.rpm as number, Math.ceil(room.retryAfterMs / 1000));
      }
      release = room.release;
    }
    try {
      const day = dayOf(now, this.options.timeZone);
      this.inFlight.add(request.id);
      try {
        await this.ledger.reserve(
          { id: request.id, keyId: key.id, keyName: key.name, model: request.model, endpoint: request.endpoint, images: request.images, costMicros: request.images * this.priceMicros(priced),
            referenceImages: request.referenceImages ?? 0, instanceId: this.options.instanceId ?? null, createdAt: now, day },
          key,
        );
      } catch (error) {
        // A reservation whose reply was lost may stand: not in flight any more, recovery settles it uncharged.
        this.inFlight.delete(request.id);
        if (error instanceof QuotaRefusal) throw this.quotaError(error, now);
        throw error;
      }
    } catch (error) {
      release();
      throw error;
    }
    const final = async (settlement: Settlement) => {
      try {
        await this.durable.perform(SETTLE_WRITE, request.id, { settlement });
      } finally {
        this.inFlight.delete(request.id);
      }
    };
    const started = performance.now();
    let settled = false;
    return {
      id: request.id,
      key,
      checkKey: async () => {
        const state = await this.keys.checkId(key.id, this.now());
        if (!state.ok) throw keyRefused(state.reason, state.record?.expiresAt);
      },
      recordFiles: (keys) => this.ledger.recordFiles(request.id, keys),
      // Neither rejects while the database is away: the write is journalled and lands when it is back, so a request
      // whose images are ready gets them, and its charge follows.
      settle: async (delivered) => {
        settled = true;
        const { servedModel, ...rest } = delivered;
        if (delivered.images > 0) this.options.onCharged?.(request.model, delivered.images);
        await final({
          ...rest, servedModel: delivered.images > 0 ? (servedModel ?? priced) : null,
          costMicros: delivered.images * this.priceMicros(servedModel ?? priced), latencyMs: Math.round(performance.now() - started),
        });
      },
      fail: async (error) => {
        if (settled) return;
        settled = true;
        const gatewayError = error instanceof GatewayError ? error : undefined;
        const clientGone = error instanceof ClientGone;
        await final({
          status: gatewayError?.status ?? (clientGone ? 499 : 500), servedModel: null, images: 0, outputTokens: 0, costMicros: 0, provider: null, upstreamRequestId: null,
          latencyMs: Math.round(performance.now() - started), errorCode: gatewayError?.code ?? (clientGone ? "ClientClosedRequest" : "InternalServiceError"),
        });
      },
      release,
    };
  }

  /**
   * After a crash: requests left reserved lose their files and are settled uncharged — only those whose instance is
   * not alive (`alive`), and, of this instance's own id, those made before `startedAt` (its previous run) and those
   * of this run that are no longer in flight and have no write waiting (a reservation whose reply was lost).
   */
  async recover(alive: (instanceId: string | null) => Promise<boolean> = async () => false, startedAt = Number.POSITIVE_INFINITY): Promise<{ requests: number; files: number }> {
    let removed = 0;
    const own = this.options.instanceId ?? null;
    const left = [];
    for (const row of await this.ledger.interrupted()) {
      if (this.durable.holds(row.id)) continue;
      const ours = row.instanceId === own && own !== null;
      if (ours ? row.createdAt < startedAt || !this.inFlight.has(row.id) : !(await alive(row.instanceId))) left.push(row);
    }
    let requests = 0;
    for (const entry of left) {
      // Settled first, and only if still reserved: a row its owner settled meanwhile keeps its files. (A crash between
      // the two leaves files no record charges — never a charge without its files.)
      const mine = await this.ledger.settle(entry.id, { status: 0, servedModel: null, images: 0, outputTokens: 0, costMicros: 0, provider: null, upstreamRequestId: null, latencyMs: 0, errorCode: "Interrupted" });
      if (!mine) continue;
      requests += 1;
      for (const file of entry.files) {
        // A file the storage cannot delete now is left to the sweeper (FILE_TTL_HOURS); no record charges it.
        if (await this.storage.delete(file).then(() => true, () => false)) removed += 1;
      }
    }
    return { requests, files: removed };
  }

  private quotaError(refusal: QuotaRefusal, now: number): GatewayError {
    const daily = refusal.kind === "dailyImages" || refusal.kind === "dailySpend";
    const images = refusal.kind === "totalImages" || refusal.kind === "dailyImages";
    const currency = this.options.prices.currency;
    const amount = (value: number) => (images ? String(value) : `${fromMicros(value)} ${currency}`);
    const names: Record<QuotaKind, [string, string]> = {
      totalImages: ["total image quota", "总图片额度"],
      dailyImages: ["daily image quota", "每日图片额度"],
      totalSpend: ["total spend limit", "总消费额度"],
      dailySpend: ["daily spend limit", "每日消费额度"],
    };
    const [name, nameCn] = names[refusal.kind];
    const left = Math.max(0, refusal.limit - refusal.used - refusal.inFlight);
    const reset = daily ? secondsToMidnight(now, this.options.timeZone) : undefined;
    return quotaExceeded(
      daily,
      `This API key's ${name} is ${amount(refusal.limit)}: ${amount(refusal.used)} used, ${amount(refusal.inFlight)} held by requests in flight, ` +
        `so this request (${images ? `${refusal.asked} image${refusal.asked === 1 ? "" : "s"}` : amount(refusal.asked)}) does not fit; ${amount(left)} left.` +
        (daily ? ` It resets at 00:00 ${this.options.timeZone}.` : ""),
      `该 API Key 的${nameCn}（${amount(refusal.limit)}）不足以完成本次请求，剩余 ${amount(left)}。`,
      reset,
    );
  }
}

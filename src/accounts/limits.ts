/**
 * Per-key request rate (a sliding 60 s window) and concurrency. `memoryLimits` keeps them in the process (one
 * gateway); `redisLimits` (redis-limits.ts) shares them between gateways. Both answer the same `SharedLimits`.
 */

export interface RateDecision {
  ok: boolean;
  /** Seconds until a slot frees up, when refused. */
  retryAfter: number;
}

const WINDOW_MS = 60_000;

export class RateWindow {
  private readonly hits = new Map<string, number[]>();

  /** Takes `count` slots when they fit under `limit` in the last minute (all or none). */
  take(key: string, limit: number, now: number, count = 1): RateDecision {
    const recent = (this.hits.get(key) ?? []).filter((at) => at > now - WINDOW_MS);
    if (recent.length + count > limit) {
      this.hits.set(key, recent);
      return { ok: false, retryAfter: Math.max(1, Math.ceil(((recent[0] ?? now) + WINDOW_MS - now) / 1000)) };
    }
    for (let taken = 0; taken < count; taken += 1) recent.push(now);
    this.hits.set(key, recent);
    return { ok: true, retryAfter: 0 };
  }
}

export class ConcurrencyGate {
  private readonly running = new Map<string, number>();

  /** A release function when fewer than `limit` requests of the key are running, else undefined. */
  enter(key: string, limit: number | null): (() => void) | undefined {
    const current = this.running.get(key) ?? 0;
    if (limit !== null && current >= limit) return undefined;
    this.running.set(key, current + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.running.get(key) ?? 1) - 1;
      if (left <= 0) this.running.delete(key);
      else this.running.set(key, left);
    };
  }
}

/** Where rate and concurrency are counted: this process, or Redis shared by every gateway. */
export interface SharedLimits {
  /** Takes `count` (default 1) slots in the key's last-minute window, all or none; refused when they would pass `limit`. */
  take(key: string, limit: number, now: number, count?: number): Promise<RateDecision>;
  /** A release function when fewer than `limit` of the key's requests are running, else undefined. */
  /** Takes a concurrency slot; resolves to its release (which resolves once the slot is free for every process), or undefined when the key is at its limit. */
  enter(key: string, limit: number): Promise<(() => void | Promise<void>) | undefined>;
  /** Throws when the shared store cannot be reached (for /ready). */
  ping?(): Promise<void>;
  close?(): Promise<void>;
}

export function memoryLimits(): SharedLimits {
  const rates = new RateWindow();
  const gate = new ConcurrencyGate();
  return {
    take: async (key, limit, now, count) => rates.take(key, limit, now, count),
    enter: async (key, limit) => gate.enter(key, limit),
  };
}

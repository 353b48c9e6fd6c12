/**
 * Per-key request rate (a sliding 60 s window) and concurrency, in process memory. A gateway spread over
 * several processes needs them shared (Redis, with the scale-out work); the interface stays the same.
 */

export interface RateDecision {
  ok: boolean;
  /** Seconds until a slot frees up, when refused. */
  retryAfter: number;
}

const WINDOW_MS = 60_000;

export class RateWindow {
  private readonly hits = new Map<string, number[]>();

  /** Takes a slot when fewer than `limit` requests were admitted in the last minute. */
  take(key: string, limit: number, now: number): RateDecision {
    const recent = (this.hits.get(key) ?? []).filter((at) => at > now - WINDOW_MS);
    if (recent.length >= limit) {
      this.hits.set(key, recent);
      return { ok: false, retryAfter: Math.max(1, Math.ceil(((recent[0] as number) + WINDOW_MS - now) / 1000)) };
    }
    recent.push(now);
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

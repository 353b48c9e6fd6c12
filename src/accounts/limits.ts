/**
 * Rate (a sliding 60 s window) and concurrency limits, for API keys and upstream accounts. `memoryLimits` keeps them
 * in the process (one gateway); `redisLimits` (redis-limits.ts) shares them between gateways. Both answer the same
 * `SharedLimits`, whose one call checks every limit of a call and takes room under all of them, or under none.
 */

const WINDOW_MS = 60_000;

/** The limits one call is counted against; a limit left out is not counted. */
export interface LimitSet {
  /** Requests in the last minute. */
  requests?: number;
  /** Images in the last minute, and how many this call may make. */
  images?: { limit: number; count: number };
  /** Calls running at once. */
  concurrency?: number;
}

export type LimitName = "requests" | "images" | "concurrency";

/** Room taken (release it when the call ends), or the first limit that is full and how long until it has room. */
export type LimitAdmission = { ok: true; release: () => void | Promise<void> } | { ok: false; limit: LimitName; retryAfterMs: number };

export interface AdmitOptions {
  /**
   * The concurrency slot may be freed for the other gateways a few milliseconds after its release, in the round trip
   * of the key's next admission rather than one of its own (an upstream account's; a key's client must find its slot
   * free once it has its answer).
   */
  lateRelease?: boolean;
}

export interface LimitUse {
  requests: number;
  images: number;
  running: number;
}

/** How soon a full concurrency limit is looked at again: a running call's end cannot be foreseen. */
export const CONCURRENCY_RECHECK_MS = 250;

/** Where limits are counted: this process, or Redis shared by every gateway. */
export interface SharedLimits {
  /**
   * Checks every limit in `limits` for `key` and, only when all have room, takes it under each (atomically across
   * gateways). Concurrency is looked at first, then requests, then images.
   */
  admit(key: string, limits: LimitSet, now: number, options?: AdmitOptions): Promise<LimitAdmission>;
  /** What of `key`'s limits is in use now: requests and images in the last minute, calls running. */
  use(key: string, now: number): Promise<LimitUse>;
  /** Throws when the shared store cannot be reached (for /ready). */
  ping?(): Promise<void>;
  close?(): Promise<void>;
}

/** Milliseconds until `count` more fit under `limit` in a window of ascending admission times (0: they fit now). */
export function windowWait(times: readonly number[], limit: number, count: number, now: number): number {
  const over = times.length + count - limit;
  if (over <= 0) return 0;
  const leaving = times[over - 1];
  return leaving === undefined ? WINDOW_MS : Math.max(1, leaving + WINDOW_MS - now);
}

export function memoryLimits(): SharedLimits {
  const windows = new Map<string, number[]>();
  const running = new Map<string, number>();
  const recent = (key: string, now: number) => {
    const times = (windows.get(key) ?? []).filter((at) => at > now - WINDOW_MS);
    windows.set(key, times);
    return times;
  };
  return {
    use: async (key, now) => ({ requests: recent(`${key}:requests`, now).length, images: recent(`${key}:images`, now).length, running: running.get(key) ?? 0 }),
    async admit(key, limits, now) {
      if (limits.concurrency !== undefined && (running.get(key) ?? 0) >= limits.concurrency) return { ok: false, limit: "concurrency", retryAfterMs: CONCURRENCY_RECHECK_MS };
      const requests = limits.requests === undefined ? undefined : recent(`${key}:requests`, now);
      const images = limits.images === undefined ? undefined : recent(`${key}:images`, now);
      if (requests && limits.requests !== undefined) {
        const wait = windowWait(requests, limits.requests, 1, now);
        if (wait > 0) return { ok: false, limit: "requests", retryAfterMs: wait };
      }
      if (images && limits.images) {
        const wait = windowWait(images, limits.images.limit, limits.images.count, now);
        if (wait > 0) return { ok: false, limit: "images", retryAfterMs: wait };
      }
      requests?.push(now);
      for (let taken = 0; images && limits.images && taken < limits.images.count; taken += 1) images.push(now);
      if (limits.concurrency === undefined) return { ok: true, release: () => undefined };
      running.set(key, (running.get(key) ?? 0) + 1);
      let released = false;
      return {
        ok: true,
        release: () => {
          if (released) return;
          released = true;
          const left = (running.get(key) ?? 1) - 1;
          if (left <= 0) running.delete(key);
          else running.set(key, left);
        },
      };
    },
  };
}

/**
 * Rate and concurrency limits shared by every gateway through Redis (`REDIS_URL`). Each check is one Lua script,
 * so it is atomic across gateways: the sliding window is a sorted set of admission times per key; concurrency is
 * a sorted set of leases scored by their expiry, so a lease held by a process that died expires by itself
 * (after `leaseMs`) instead of blocking the key for ever. ioredis is imported only when REDIS_URL is set.
 */
import { randomUUID } from "node:crypto";
import { openRedis, type RedisTimeouts } from "../process/redis.js";
import { GatewayError, ErrCode } from "../errors/errors.js";
import { groupCommit } from "../stores/group-commit.js";
import { CONCURRENCY_RECHECK_MS, type LimitName, type LimitSet, type SharedLimits } from "./limits.js";

const WINDOW_MS = 60_000;
/** How long a lease released late waits for its key's next admission to remove it, at most. */
const LATE_RELEASE_MS = 5;

// A batch of admissions, in order, each as if alone (the group commit of stores/group-commit.ts, in one round trip).
// KEYS per admission: requests window, images window, leases. ARGV now, window, then per admission: requests limit,
// images limit, images asked, concurrency limit (-1: not counted), member, lease expiry, the number of leases released
// late and those leases (removed first) → per admission {1, 0, ''} taken under every limit, or {0, ms until it has
// room, the first full limit} with nothing taken. Windows are sorted sets of admission times.
const ADMIT = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local function wait(key, limit, count)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local over = redis.call('ZCARD', key) + count - limit
  if over <= 0 then return 0 end
  local leaving = redis.call('ZRANGE', key, over - 1, over - 1, 'WITHSCORES')
  if leaving[2] == nil then return window end
  return math.max(1, tonumber(leaving[2]) + window - now)
end
local function admit(rate, shown, leases, a)
  local requests = tonumber(ARGV[a])
  local images = tonumber(ARGV[a + 1])
  local asked = tonumber(ARGV[a + 2])
  local concurrency = tonumber(ARGV[a + 3])
  local member = ARGV[a + 4]
  local expiry = tonumber(ARGV[a + 5])
  if concurrency >= 0 then
    redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
    if redis.call('ZCARD', leases) >= concurrency then return 0, ${CONCURRENCY_RECHECK_MS}, 'concurrency' end
  end
  if requests >= 0 then
    local ms = wait(rate, requests, 1)
    if ms > 0 then return 0, ms, 'requests' end
  end
  if images >= 0 then
    local ms = wait(shown, images, asked)
    if ms > 0 then return 0, ms, 'images' end
  end
  if requests >= 0 then
    redis.call('ZADD', rate, now, member)
    redis.call('PEXPIRE', rate, window)
  end
  if images >= 0 then
    for i = 1, asked do redis.call('ZADD', shown, now, member .. ':' .. i) end
    redis.call('PEXPIRE', shown, window)
  end
  if concurrency >= 0 then
    redis.call('ZADD', leases, expiry, member)
    redis.call('PEXPIRE', leases, expiry - now)
  end
  return 1, 0, ''
end
local out = {}
local a = 3
for k = 1, #KEYS, 3 do
  local carried = tonumber(ARGV[a + 6])
  for i = 1, carried do redis.call('ZREM', KEYS[k + 2], ARGV[a + 6 + i]) end
  local ok, ms, limit = admit(KEYS[k], KEYS[k + 1], KEYS[k + 2], a)
  out[#out + 1] = ok
  out[#out + 1] = ms
  out[#out + 1] = limit
  a = a + 7 + carried
end
return out`;

type AdmitReply = [number, number, string];
/** The script with its number of keys first (defineCommand without numberOfKeys). */
type WithAdmit = { gatewayAdmit(keys: number, ...keysThenArgs: Array<string | number>): Promise<Array<number | string>> };
type AdmitCall = { key: string; limits: LimitSet; now: number; member: string };

export interface RedisLimitsOptions {
  /** `REDIS_URL`, e.g. redis://127.0.0.1:6379/0. */
  url: string;
  /** Prefix of every key the gateway writes; default `doubao-gateway:`. */
  prefix?: string;
  /** How long a concurrency lease lives when its process never releases it; default 15 min (beyond any request's deadline). */
  leaseMs?: number;
  /** REDIS_CONNECT_TIMEOUT_MS and REDIS_COMMAND_TIMEOUT_MS. */
  timeouts?: Partial<RedisTimeouts>;
}

/** 503 for a request whose limits cannot be checked: the gateway does not guess, and charges nothing. */
export function limitsUnavailable(detail: string): GatewayError {
  return new GatewayError({
    status: 503, code: "LimitsUnavailable", type: "server_error", errCode: ErrCode.noUpstream, retryAfter: 5,
    message: `The gateway cannot check this API key's rate and concurrency limits right now (Redis: ${detail}); nothing was sent upstream or charged. Retry shortly.`,
    messageCn: "网关暂时无法检查该 API Key 的速率与并发限制（Redis 不可用），请求未发送、未计费，请稍后重试。",
  });
}

export async function redisLimits(options: RedisLimitsOptions): Promise<SharedLimits> {
  // Requests that need Redis while it is down get a 503 until it is back.
  // Not ioredis's auto-pipelining: its queued commands escaped commandTimeout when Redis went silent (the fault suite's
  // blackhole: /ready never came back). Admissions are grouped here instead, each batch one bounded EVALSHA.
  const redis = await openRedis(options.url, options.timeouts ? { timeouts: options.timeouts } : {});
  const prefix = options.prefix ?? "doubao-gateway:";
  const leaseMs = options.leaseMs ?? 15 * 60_000;
  const run = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      throw limitsUnavailable((error as Error).message.slice(0, 120));
    }
  };
  /** A key's sorted sets: its requests window, its images window, its running calls' leases. */
  const setsOf = (key: string) => ({ requests: `${prefix}rate:${key}`, images: `${prefix}images:${key}`, leases: `${prefix}running:${key}` });
  // Leases whose removal failed (Redis away), or whose admission met an error after Redis may have run it (a lost reply):
  // removed when Redis is back, rather than holding a slot of their key until they expire.
  const stale = new Map<string, string>();
  let sweeping: NodeJS.Timeout | undefined;
  const forget = (set: string, lease: string) => {
    if (stale.size < 100_000) stale.set(lease, set);
    sweeping ??= setInterval(() => {
      for (const [leaseId, setKey] of stale) {
        void redis.zrem(setKey, leaseId).then(() => {
          stale.delete(leaseId);
          if (stale.size === 0 && sweeping) {
            clearInterval(sweeping);
            sweeping = undefined;
          }
        }, () => undefined);
      }
    }, 500);
    sweeping.unref();
  };
  // Leases released late (`lateRelease`): removed by the next admission of their key, in its round trip, or by a
  // sweep LATE_RELEASE_MS after the release when none comes sooner.
  const late = new Map<string, string[]>();
  let flushing: NodeJS.Timeout | undefined;
  const flushLate = () => {
    flushing = undefined;
    for (const [set, members] of late) {
      late.delete(set);
      void redis.zrem(set, ...members).catch(() => members.forEach((member) => forget(set, member)));
    }
  };
  // Admissions that queue while a batch is in flight go together as the next, one EVALSHA of the script Redis keeps
  // (sent whole only when Redis lacks it) for all of them.
  redis.defineCommand("gatewayAdmit", { lua: ADMIT });
  const admitScript = redis as unknown as WithAdmit;
  const admitted = groupCommit<AdmitCall, AdmitReply>(async (calls) => {
    const keys: string[] = [];
    const args: Array<string | number> = [calls[0]?.now ?? Date.now(), WINDOW_MS];
    const carried = new Map<string, string[]>();
    for (const { key, limits, member, now } of calls) {
      const sets = setsOf(key);
      const leases = sets.leases;
      const mine = late.get(leases) ?? [];
      late.delete(leases);
      if (mine.length > 0) carried.set(leases, mine);
      keys.push(sets.requests, sets.images, leases);
      args.push(limits.requests ?? -1, limits.images?.limit ?? -1, limits.images?.count ?? 0, limits.concurrency ?? -1, member, now + leaseMs, mine.length, ...mine);
    }
    try {
      const flat = await run(() => admitScript.gatewayAdmit(keys.length, ...keys, ...args));
      return calls.map((_, index) => ({ status: "fulfilled", value: [Number(flat[index * 3]), Number(flat[index * 3 + 1]), String(flat[index * 3 + 2])] as AdmitReply }));
    } catch (error) {
      for (const [leases, members] of carried) for (const member of members) forget(leases, member);
      throw error;
    }
  }, { max: 100 });
  return {
    async use(key, now) {
      const sets = setsOf(key);
      const [requests, images, running] = await run(() =>
        Promise.all([
          redis.zcount(sets.requests, now - WINDOW_MS + 1, "+inf"), redis.zcount(sets.images, now - WINDOW_MS + 1, "+inf"), redis.zcount(sets.leases, now + 1, "+inf"),
        ]),
      );
      return { requests, images, running };
    },
    async admit(key, limits, now, options) {
      const member = randomUUID();
      const leases = setsOf(key).leases;
      const counted = limits.concurrency !== undefined;
      let reply: AdmitReply;
      try {
        reply = await admitted({ key, limits, now, member });
      } catch (error) {
        if (counted) forget(leases, member);
        throw error;
      }
      const [ok, wait, limit] = reply;
      if (ok !== 1) return { ok: false, limit: limit as LimitName, retryAfterMs: Number(wait) };
      if (!counted) return { ok: true, release: () => undefined };
      let released = false;
      return {
        ok: true,
        release: async () => {
          if (released) return;
          released = true;
          if (options?.lateRelease) {
            const waiting = late.get(leases);
            if (waiting) waiting.push(member);
            else late.set(leases, [member]);
            flushing ??= setTimeout(flushLate, LATE_RELEASE_MS);
            flushing.unref();
            return;
          }
          // Awaited before the answer is sent: a client that got its answer finds the slot free on every gateway.
          await redis.zrem(leases, member).catch(() => forget(leases, member));
        },
      };
    },
    ping: async () => {
      await redis.ping();
    },
    close: async () => {
      if (flushing) clearTimeout(flushing);
      flushLate();
      if (sweeping) clearInterval(sweeping);
      redis.disconnect();
    },
  };
}

/**
 * Rate and concurrency limits shared by every gateway through Redis (`REDIS_URL`). Each check is one Lua script,
 * so it is atomic across gateways: the sliding window is a sorted set of admission times per key; concurrency is
 * a sorted set of leases scored by their expiry, so a lease held by a process that died expires by itself
 * (after `leaseMs`) instead of blocking the key for ever. ioredis is imported only when REDIS_URL is set.
 */
import { randomUUID } from "node:crypto";
import { openRedis, type RedisTimeouts } from "../redis.js";
import { GatewayError, ErrCode } from "../errors.js";
import type { RateDecision, SharedLimits } from "./limits.js";

const WINDOW_MS = 60_000;

// KEYS[1] window; ARGV now, window, limit, member, count → {1, 0} taken (count members), or {0, ms until the oldest leaves}
const TAKE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
local count = redis.call('ZCARD', KEYS[1])
local asked = tonumber(ARGV[5])
if count + asked <= tonumber(ARGV[3]) then
  for i = 1, asked do redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4] .. ':' .. i) end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if oldest[2] == nil then return {0, tonumber(ARGV[2])} end
return {0, tonumber(oldest[2]) + ARGV[2] - ARGV[1]}`;

// KEYS[1] leases; ARGV now, expiry, limit, lease id → 1 entered, 0 full
const ENTER = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[2] - ARGV[1])
  return 1
end
return 0`;

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
  // Leases whose removal failed (Redis away), or whose ENTER met an error after Redis may have run it (a lost reply):
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
  return {
    async take(key, limit, now, count = 1): Promise<RateDecision> {
      const [ok, wait] = await run(() => redis.eval(TAKE, 1, `${prefix}rate:${key}`, now, WINDOW_MS, limit, `${now}:${randomUUID()}`, count) as Promise<[number, number]>);
      return ok === 1 ? { ok: true, retryAfter: 0 } : { ok: false, retryAfter: Math.max(1, Math.ceil(wait / 1000)) };
    },
    async enter(key, limit) {
      const lease = randomUUID();
      const now = Date.now();
      const set = `${prefix}running:${key}`;
      let entered: number;
      try {
        entered = await run(() => redis.eval(ENTER, 1, set, now, now + leaseMs, limit, lease) as Promise<number>);
      } catch (error) {
        forget(set, lease);
        throw error;
      }
      if (entered !== 1) return undefined;
      let released = false;
      // Awaited before the answer is sent: a client that got its answer finds the slot free on every gateway.
      return async () => {
        if (released) return;
        released = true;
        await redis.zrem(set, lease).catch(() => forget(set, lease));
      };
    },
    ping: async () => {
      await redis.ping();
    },
    close: async () => {
      if (sweeping) clearInterval(sweeping);
      redis.disconnect();
    },
  };
}

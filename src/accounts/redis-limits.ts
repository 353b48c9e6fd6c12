/**
 * Rate and concurrency limits shared by every gateway through Redis (`REDIS_URL`). Each check is one Lua script,
 * so it is atomic across gateways: the sliding window is a sorted set of admission times per key; concurrency is
 * a sorted set of leases scored by their expiry, so a lease held by a process that died expires by itself
 * (after `leaseMs`) instead of blocking the key for ever. ioredis is imported only when REDIS_URL is set.
 */
import { randomUUID } from "node:crypto";
import { openRedis, type RedisTimeouts } from "../redis.js";
import { GatewayError, ErrCode } from "../errors.js";
import { CONCURRENCY_RECHECK_MS, type LimitName, type SharedLimits } from "./limits.js";

const WINDOW_MS = 60_000;

// KEYS requests window, images window, leases; ARGV now, window, requests limit, images limit, images asked,
// concurrency limit, member, lease expiry (a limit of -1 is not counted) → {1, 0, ''} taken under every limit, or
// {0, ms until it has room, the first full limit} with nothing taken. Windows are sorted sets of admission times.
const ADMIT = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local requests = tonumber(ARGV[3])
local images = tonumber(ARGV[4])
local asked = tonumber(ARGV[5])
local concurrency = tonumber(ARGV[6])
if concurrency >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if redis.call('ZCARD', KEYS[3]) >= concurrency then return {0, ${CONCURRENCY_RECHECK_MS}, 'concurrency'} end
end
local function wait(key, limit, count)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local over = redis.call('ZCARD', key) + count - limit
  if over <= 0 then return 0 end
  local leaving = redis.call('ZRANGE', key, over - 1, over - 1, 'WITHSCORES')
  if leaving[2] == nil then return window end
  return math.max(1, tonumber(leaving[2]) + window - now)
end
if requests >= 0 then
  local ms = wait(KEYS[1], requests, 1)
  if ms > 0 then return {0, ms, 'requests'} end
end
if images >= 0 then
  local ms = wait(KEYS[2], images, asked)
  if ms > 0 then return {0, ms, 'images'} end
end
if requests >= 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[7])
  redis.call('PEXPIRE', KEYS[1], window)
end
if images >= 0 then
  for i = 1, asked do redis.call('ZADD', KEYS[2], now, ARGV[7] .. ':' .. i) end
  redis.call('PEXPIRE', KEYS[2], window)
end
if concurrency >= 0 then
  redis.call('ZADD', KEYS[3], ARGV[8], ARGV[7])
  redis.call('PEXPIRE', KEYS[3], ARGV[8] - now)
end
return {1, 0, ''}`;

type AdmitReply = [number, number, string];
type WithAdmit = { gatewayAdmit(requests: string, images: string, leases: string, ...args: Array<string | number>): Promise<AdmitReply> };

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
  // One round trip per admission: EVALSHA of the script Redis keeps (sent whole only when Redis lacks it).
  redis.defineCommand("gatewayAdmit", { numberOfKeys: 3, lua: ADMIT });
  const admitScript = redis as unknown as WithAdmit;
  return {
    async admit(key, limits, now) {
      const member = randomUUID();
      const leases = `${prefix}running:${key}`;
      const counted = limits.concurrency !== undefined;
      let reply: AdmitReply;
      try {
        reply = await run(() =>
          admitScript.gatewayAdmit(
            `${prefix}rate:${key}`, `${prefix}images:${key}`, leases, now, WINDOW_MS, limits.requests ?? -1, limits.images?.limit ?? -1, limits.images?.count ?? 0,
            limits.concurrency ?? -1, member, now + leaseMs,
          ),
        );
      } catch (error) {
        if (counted) forget(leases, member);
        throw error;
      }
      const [ok, wait, limit] = reply;
      if (ok !== 1) return { ok: false, limit: limit as LimitName, retryAfterMs: Number(wait) };
      if (!counted) return { ok: true, release: () => undefined };
      let released = false;
      // Awaited before the answer is sent: a client that got its answer finds the slot free on every gateway.
      return {
        ok: true,
        release: async () => {
          if (released) return;
          released = true;
          await redis.zrem(leases, member).catch(() => forget(leases, member));
        },
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

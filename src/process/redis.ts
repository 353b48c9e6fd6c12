/**
 * One way to open a Redis connection for the gateway's shared state (limits, breakers): ioredis imported only when
 * REDIS_URL is set; fail fast when Redis is down (no offline queue unless asked, one try, a 2 s connect timeout);
 * the first connection waited for up to 2 s, so that the first requests are not refused — a Redis that is down at
 * start does not stop the gateway.
 */
import type { Redis } from "ioredis";

export interface RedisTimeouts {
  /** A connection (and each reconnection) gives up past this (REDIS_CONNECT_TIMEOUT_MS); default 2000. */
  connectMs: number;
  /** A command gets no answer past this and fails (REDIS_COMMAND_TIMEOUT_MS): a silent Redis costs a request this, not the outage; default 1000. */
  commandMs: number;
}

export const DEFAULT_REDIS_TIMEOUTS: RedisTimeouts = { connectMs: 2_000, commandMs: 1_000 };

export async function openRedis(url: string, options: { offlineQueue?: boolean; timeouts?: Partial<RedisTimeouts> } = {}): Promise<Redis> {
  const { Redis: RedisClient } = await import("ioredis");
  const timeouts = { ...DEFAULT_REDIS_TIMEOUTS, ...options.timeouts };
  const redis: Redis = new RedisClient(url, {
    enableOfflineQueue: options.offlineQueue ?? false, maxRetriesPerRequest: 1, connectTimeout: timeouts.connectMs,
    // A subscriber's connection waits for messages, so only the command connection has a command timeout.
    ...(options.offlineQueue ? {} : { commandTimeout: timeouts.commandMs }),
    keepAlive: 10_000,
  });
  // Every failure of the connection (refused, reset, timed out) arrives here as well as at the command that met it;
  // ioredis reconnects by itself.
  redis.on("error", () => undefined);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeouts.connectMs);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once("ready", done);
    redis.once("error", done);
  });
  return redis;
}

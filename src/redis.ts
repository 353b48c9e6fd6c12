/**
 * One way to open a Redis connection for the gateway's shared state (limits, breakers): ioredis imported only when
 * REDIS_URL is set; fail fast when Redis is down (no offline queue unless asked, one try, a 2 s connect timeout);
 * the first connection waited for up to 2 s, so that the first requests are not refused — a Redis that is down at
 * start does not stop the gateway.
 */
import type { Redis } from "ioredis";

export async function openRedis(url: string, options: { offlineQueue?: boolean } = {}): Promise<Redis> {
  const { Redis: RedisClient } = await import("ioredis");
  const redis: Redis = new RedisClient(url, { enableOfflineQueue: options.offlineQueue ?? false, maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  redis.on("error", () => undefined);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2_000);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once("ready", done);
    redis.once("error", done);
  });
  return redis;
}

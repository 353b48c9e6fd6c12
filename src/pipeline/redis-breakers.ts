/**
 * Circuit-breaker state shared through Redis (REDIS_URL): a breaker that opens or closes is written to one hash
 * (`<prefix>breakers`, provider → change) and published on `<prefix>breakers` to every gateway, which adopts it.
 * A gateway that starts reads the hash, so it begins with the breakers open now. Redis being down costs nothing
 * here: each gateway keeps its own breakers, as without REDIS_URL.
 */
import { randomUUID } from "node:crypto";
import { openRedis, type RedisTimeouts } from "../process/redis.js";
import type { BreakerChange, BreakerSync } from "./resilience.js";

interface Message {
  from: string;
  provider: string;
  change: BreakerChange;
}

export async function redisBreakerSync(options: { url: string; prefix?: string; timeouts?: Partial<RedisTimeouts> }): Promise<BreakerSync> {
  const prefix = options.prefix ?? "doubao-gateway:";
  const key = `${prefix}breakers`;
  const me = randomUUID();
  // The subscriber queues its SUBSCRIBE until Redis answers; the other connection fails fast.
  const [redis, subscriber] = await Promise.all([
    openRedis(options.url, options.timeouts ? { timeouts: options.timeouts } : {}),
    openRedis(options.url, { offlineQueue: true, ...(options.timeouts ? { timeouts: options.timeouts } : {}) }),
  ]);
  const parse = (text: string): Message | undefined => {
    try {
      return JSON.parse(text) as Message;
    } catch {
      return undefined;
    }
  };
  return {
    publish(provider, change) {
      const message = JSON.stringify({ from: me, provider, change } satisfies Message);
      void redis.hset(key, provider, message).then(() => redis.publish(key, message)).catch(() => undefined);
    },
    subscribe(apply) {
      subscriber.on("message", (channel: string, text: string) => {
        const message = channel === key ? parse(text) : undefined;
        if (message && message.from !== me) apply(message.provider, message.change);
      });
      void subscriber.subscribe(key).catch(() => undefined);
      // The breakers last opened, as this gateway starts (the resilience layer ignores those whose cooldown is over).
      void redis.hgetall(key).then((entries) => {
        for (const text of Object.values(entries)) {
          const message = parse(text);
          if (message?.change.state === "open") apply(message.provider, message.change);
        }
      }).catch(() => undefined);
    },
    close: async () => {
      redis.disconnect();
      subscriber.disconnect();
    },
  };
}

import { Redis } from "ioredis";
import type { Logger } from "../logger.ts";

/**
 * A Redis client tuned for a cache: commands fail fast instead of queueing while Redis is away, so
 * callers fall back to PostgreSQL at once, and the client keeps reconnecting in the background.
 */
export function createRedisClient(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 1_000,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  let down = false;
  redis.on("error", (error: Error) => {
    if (!down) logger.warn({ err: error.message }, "redis unavailable; profiles come from PostgreSQL");
    down = true;
  });
  redis.on("ready", () => {
    if (down) logger.info("redis available again");
    down = false;
  });
  // The first connection is attempted in the background; an unreachable Redis is not fatal.
  redis.connect().catch(() => {});
  return redis;
}

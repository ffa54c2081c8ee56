import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../logger.ts";

/** TLS for a `rediss://` URL, with a private CA when given (the system's CAs otherwise). */
export function redisOptions(url: string, caFile: string | undefined): RedisOptions {
  if (!url.startsWith("rediss:")) return {};
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  return {
    tls: {
      ...(isIP(host) ? {} : { servername: host }),
      ...(caFile ? { ca: [readFileSync(caFile, "utf8")] } : {}),
    },
  };
}

/**
 * A Redis client tuned for a cache: commands fail fast instead of queueing while Redis is away, so
 * callers fall back to PostgreSQL at once, and the client keeps reconnecting in the background.
 */
export function createRedisClient(url: string, logger: Logger, caFile?: string): Redis {
  const redis = new Redis(url, {
    ...redisOptions(url, caFile),
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

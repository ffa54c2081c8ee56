import type { Redis, Result } from "ioredis";
import type { Counter } from "prom-client";
import type { Profile } from "../domain/profile.ts";
import { SentinelError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { ProfileStore } from "../store/profile-store.ts";

/*
 * Cache-aside over PostgreSQL. Values are "<version>|<json>" ("0|null" caches an unknown user).
 * Writes go through a Lua script that never replaces a newer version with an older one, so a slow
 * reader cannot put back a profile that a PUT has just replaced (the classic cache-aside race).
 */

const SET_IF_NOT_OLDER = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local v = tonumber(string.match(cur, '^(%d+)|'))
  if v and v > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1`;

declare module "ioredis" {
  interface RedisCommander<Context> {
    /** SET_IF_NOT_OLDER, registered by createProfileCache with defineCommand. */
    sentinelSetIfNotOlder(
      key: string,
      value: string,
      version: string,
      ttlSeconds: string,
    ): Result<number, Context>;
  }
}

export type ProfileCacheMetrics = { hits: Counter; misses: Counter; fallbacks: Counter };

export type ProfileCache = {
  /** Profiles by user id; `null` for an unknown user. Falls back to PostgreSQL when Redis is away. */
  getMany(userIds: readonly string[]): Promise<Map<string, Profile | null>>;
  /** Puts a just-written profile in the cache (replacing any older copy). Throws cache_unavailable. */
  refresh(profile: Profile): Promise<void>;
};

/** Our own entries, written by encode(): parsed, not re-validated (that showed in the profile). */
function decode(raw: string): Profile | null | undefined {
  const bar = raw.indexOf("|");
  if (bar < 0) return undefined;
  const body = raw.slice(bar + 1);
  if (body === "null") return null;
  try {
    return JSON.parse(body) as Profile;
  } catch {
    return undefined; // an unreadable entry is a miss
  }
}

export function createProfileCache({
  redis,
  store,
  keyPrefix,
  ttlSeconds,
  negativeTtlSeconds,
  metrics,
  logger,
  random = Math.random,
}: {
  redis: Redis;
  store: Pick<ProfileStore, "getMany">;
  keyPrefix: string;
  ttlSeconds: number;
  negativeTtlSeconds: number;
  metrics: ProfileCacheMetrics;
  logger: Logger;
  random?: () => number;
}): ProfileCache {
  // v1: the value format; a format change gets new keys instead of misreading old ones.
  const key = (userId: string) => `${keyPrefix}profile:v1:${userId}`;
  // EVALSHA through ioredis's script cache: the script text is not resent with every write.
  redis.defineCommand("sentinelSetIfNotOlder", { numberOfKeys: 1, lua: SET_IF_NOT_OLDER });

  // Jitter spreads expiries so a seeded population does not expire in one instant.
  const ttl = (base: number) => Math.max(1, Math.round(base * (0.9 + random() * 0.2)));
  /** Misses being loaded right now, shared by every caller that asks for the same user meanwhile. */
  const inflight = new Map<string, Promise<Profile | null>>();

  function encode(userId: string, profile: Profile | null): [string, string, string, string] {
    return profile
      ? [
          key(userId),
          `${profile.version}|${JSON.stringify(profile)}`,
          String(profile.version),
          String(ttl(ttlSeconds)),
        ]
      : [key(userId), "0|null", "0", String(ttl(negativeTtlSeconds))];
  }

  async function writeBack(entries: Array<[string, Profile | null]>): Promise<void> {
    if (entries.length === 0 || redis.status !== "ready") return;
    const pipeline = redis.pipeline();
    for (const [userId, profile] of entries) pipeline.sentinelSetIfNotOlder(...encode(userId, profile));
    await pipeline.exec();
  }

  async function loadMisses(userIds: string[]): Promise<Map<string, Profile | null>> {
    const result = new Map<string, Profile | null>();
    const toLoad: string[] = [];
    const waiting: Array<Promise<void>> = [];
    for (const id of userIds) {
      const pending = inflight.get(id);
      if (pending) waiting.push(pending.then((p) => void result.set(id, p)));
      else toLoad.push(id);
    }
    // Handled from this moment: a shared load that fails while our own query is still running (or
    // after it failed) must not become an unhandled rejection, which ends a Node 24 process.
    const waited = Promise.all(waiting);
    waited.catch(() => {});
    if (toLoad.length > 0) {
      const query = store.getMany(toLoad).then((rows) => new Map(rows.map((p) => [p.user_id, p])));
      for (const id of toLoad) {
        const one = query.then((m) => m.get(id) ?? null);
        one.catch(() => {}); // the error reaches the caller through `query`
        inflight.set(id, one);
      }
      try {
        const found = await query;
        const loaded: Array<[string, Profile | null]> = toLoad.map((id) => [id, found.get(id) ?? null]);
        for (const [id, p] of loaded) result.set(id, p);
        // Not awaited: the caller has its profiles; the cache fills in the background.
        writeBack(loaded).catch((error: unknown) =>
          logger.debug({ err: (error as Error).message }, "profile cache write-back failed"),
        );
      } finally {
        for (const id of toLoad) inflight.delete(id);
      }
    }
    await waited;
    return result;
  }

  return {
    async getMany(userIds) {
      const unique = [...new Set(userIds)];
      const result = new Map<string, Profile | null>();
      if (unique.length === 0) return result;
      let cached: Array<string | null>;
      try {
        if (redis.status !== "ready") throw new Error(`redis ${redis.status}`);
        cached = await redis.mget(unique.map(key));
      } catch {
        metrics.fallbacks.inc(unique.length);
        return loadMisses(unique);
      }
      const misses: string[] = [];
      unique.forEach((id, i) => {
        const raw = cached[i];
        const value = raw == null ? undefined : decode(raw);
        if (value === undefined) misses.push(id);
        else result.set(id, value);
      });
      metrics.hits.inc(unique.length - misses.length);
      metrics.misses.inc(misses.length);
      if (misses.length > 0) for (const [id, p] of await loadMisses(misses)) result.set(id, p);
      return result;
    },

    async refresh(profile) {
      try {
        if (redis.status !== "ready") throw new Error(`redis ${redis.status}`);
        await redis.sentinelSetIfNotOlder(...encode(profile.user_id, profile));
      } catch (error) {
        throw new SentinelError(
          "cache_unavailable",
          "profile saved, but the cached copy could not be refreshed",
          {
            cause: error,
          },
        );
      }
    },
  };
}

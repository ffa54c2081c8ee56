import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisClient } from "../../src/cache/redis-client.ts";
import { createProfileCache } from "../../src/cache/redis-profile-cache.ts";
import type { Profile, ProfileInput } from "../../src/domain/profile.ts";
import { createMetrics } from "../../src/metrics.ts";
import { createDatabasePool, type DatabasePool } from "../../src/store/pool.ts";
import { createProfileStore, type ProfileStore } from "../../src/store/profile-store.ts";
import { createTestContext, type TestContext } from "../support/context.ts";
import { eventually } from "../support/topics.ts";

/* The cache-aside against the real Redis and PostgreSQL. Where a test needs to observe or hold
   PostgreSQL reads, it wraps the real store; nothing stands in for either server. */

let ctx: TestContext;
let pool: DatabasePool;
let store: ProfileStore;
/** Who the audit trail says wrote these profiles. */
const TESTER = { name: "profile-cache-test", role: "admin" };

const input: ProfileInput = {
  status: "active",
  risk_tier: "low",
  home_country: "US",
  currency: "USD",
  per_transaction_limit: "100.00",
  daily_limit: "1000.00",
};

beforeAll(async () => {
  ctx = await createTestContext();
  pool = await createDatabasePool(ctx.config.database.url, { maxPoolSize: 4 });
  store = createProfileStore({ pool });
});
afterAll(async () => {
  await pool?.end();
  await ctx?.cleanup();
});

function makeCache(wrapped: Pick<ProfileStore, "getMany"> = store, redisUrl = ctx.config.redis.url) {
  const redis = createRedisClient(redisUrl, ctx.logger);
  const metrics = createMetrics({ defaults: false });
  const cache = createProfileCache({
    redis,
    store: wrapped,
    keyPrefix: ctx.config.redis.keyPrefix,
    ttlSeconds: 300,
    negativeTtlSeconds: 30,
    metrics: metrics.cache,
    logger: ctx.logger,
  });
  return { cache, redis, metrics };
}

/** The real store, counting its queries. */
const countingStore = (onQuery: () => void): Pick<ProfileStore, "getMany"> => ({
  getMany: (ids) => {
    onQuery();
    return store.getMany(ids);
  },
});

const counted = async (m: ReturnType<typeof createMetrics>, name: string) =>
  (await m.registry.getSingleMetric(name)!.get()).values[0]?.value ?? 0;

describe("redis profile cache", () => {
  it("loads misses from PostgreSQL in one query, then serves hits from Redis", async () => {
    await store.upsert("c1", input, TESTER);
    await store.upsert("c2", input, TESTER);
    let queries = 0;
    const { cache, redis, metrics } = makeCache(countingStore(() => queries++));
    await eventually(async () => redis.status === "ready", 5_000, 50);
    try {
      const first = await cache.getMany(["c1", "c2", "nobody"]);
      expect(first.get("c1")?.per_transaction_limit).toBe("100.00");
      expect(first.get("nobody")).toBeNull();
      expect(queries).toBe(1);
      const second = await cache.getMany(["c1", "c2", "nobody"]);
      expect(second).toEqual(first);
      expect(queries).toBe(1); // all three from Redis, the unknown one too (negative caching)
      expect(await counted(metrics, "sentinel_profile_cache_hits_total")).toBe(3);
      expect(await counted(metrics, "sentinel_profile_cache_misses_total")).toBe(3);
      expect(await redis.ttl(`${ctx.config.redis.keyPrefix}profile:nobody`)).toBeLessThanOrEqual(33);
    } finally {
      redis.disconnect();
    }
  });

  it("coalesces concurrent misses for the same user into one query", async () => {
    await store.upsert("c3", input, TESTER);
    let queries = 0;
    // The query is held 300 ms so that all ten misses overlap it (on a loaded machine the first
    // query could otherwise finish before the last MGET answered: a later miss, not a concurrent one).
    const slowStore: Pick<ProfileStore, "getMany"> = {
      getMany: async (ids) => {
        queries++;
        await new Promise((r) => setTimeout(r, 300));
        return store.getMany(ids);
      },
    };
    const { cache, redis } = makeCache(slowStore);
    await eventually(async () => redis.status === "ready", 5_000, 50);
    try {
      const results = await Promise.all([...Array(10)].map(() => cache.getMany(["c3"])));
      expect(results.every((r) => r.get("c3")?.user_id === "c3")).toBe(true);
      expect(queries).toBe(1);
    } finally {
      redis.disconnect();
    }
  });

  it("never lets a slow reader put back an older profile than a write refreshed", async () => {
    await store.upsert("c4", input, TESTER); // version 1
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let readDone!: () => void;
    const read = new Promise<void>((r) => {
      readDone = r;
    });
    const slow = {
      getMany: async (ids: readonly string[]): Promise<Profile[]> => {
        const rows = await store.getMany(ids); // reads version 1 ...
        readDone();
        await gate; // ... and is held while a writer updates and refreshes
        return rows;
      },
    };
    const { cache, redis } = makeCache(slow);
    await eventually(async () => redis.status === "ready", 5_000, 50);
    try {
      const pending = cache.getMany(["c4"]);
      await read;
      const v2 = await store.upsert("c4", { ...input, per_transaction_limit: "5.00" }, TESTER);
      expect(v2.version).toBe(2);
      await cache.refresh(v2);
      release();
      expect((await pending).get("c4")?.version).toBe(1); // that reader saw the old row
      expect((await cache.getMany(["c4"])).get("c4")?.per_transaction_limit).toBe("5.00"); // the cache did not
    } finally {
      redis.disconnect();
    }
  });

  it("falls back to PostgreSQL when Redis is unreachable, and refresh says so", async () => {
    await store.upsert("c5", input, TESTER);
    const { cache, redis, metrics } = makeCache(store, "redis://127.0.0.1:1");
    try {
      const got = await cache.getMany(["c5", "nobody"]);
      expect(got.get("c5")?.user_id).toBe("c5");
      expect(got.get("nobody")).toBeNull();
      expect(await counted(metrics, "sentinel_profile_cache_fallbacks_total")).toBe(2);
      await expect(cache.refresh(got.get("c5")!)).rejects.toMatchObject({ code: "cache_unavailable" });
    } finally {
      redis.disconnect();
    }
  });
});

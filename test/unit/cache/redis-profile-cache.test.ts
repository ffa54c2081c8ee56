import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createProfileCache } from "../../../src/cache/redis-profile-cache.ts";
import type { Profile } from "../../../src/domain/profile.ts";
import { createMetrics } from "../../../src/metrics.ts";

/*
 * The coalescing of misses, without a Redis server: a client that never connects sends every read
 * to the profile store (the fallback path), where misses of the same user share one load. The
 * store here is a test double whose loads the test settles by hand.
 */

type Load = { ids: readonly string[]; resolve: (p: Profile[]) => void; reject: (e: Error) => void };

function setup() {
  const loads: Load[] = [];
  const redis = new Redis({ lazyConnect: true });
  const cache = createProfileCache({
    redis,
    store: {
      getMany: (ids) => new Promise<Profile[]>((resolve, reject) => loads.push({ ids, resolve, reject })),
    },
    keyPrefix: "test:",
    ttlSeconds: 60,
    negativeTtlSeconds: 10,
    metrics: createMetrics({ defaults: false }).cache,
    logger: pino({ level: "silent" }),
  });
  return { cache, loads, redis };
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
afterEach(() => {
  process.off("unhandledRejection", onUnhandled);
  unhandled.length = 0;
});

describe("profile cache: coalesced misses", () => {
  it("shares one load between concurrent misses of the same user", async () => {
    const { cache, loads } = setup();
    const a = cache.getMany(["u1"]);
    const b = cache.getMany(["u1"]);
    await sleep(5);
    expect(loads.map((l) => l.ids)).toEqual([["u1"]]);
    loads[0]!.resolve([]);
    expect((await a).get("u1")).toBeNull();
    expect((await b).get("u1")).toBeNull();
  });

  it("a shared load that fails while another load runs is no unhandled rejection (issue 11)", async () => {
    process.on("unhandledRejection", onUnhandled);
    const { cache, loads } = setup();
    const first = cache.getMany(["a"]); // loads a
    const second = cache.getMany(["a", "b"]); // waits for a, loads b
    await sleep(5);
    expect(loads.map((l) => l.ids)).toEqual([["a"], ["b"]]);
    loads[0]!.reject(new Error("database down"));
    await expect(first).rejects.toThrow("database down");
    await sleep(20); // an unhandled rejection would be reported by now
    loads[1]!.resolve([]);
    await expect(second).rejects.toThrow("database down");
    await sleep(20);
    expect(unhandled).toEqual([]);
  });

  it("no unhandled rejection when its own load fails before the shared one does", async () => {
    process.on("unhandledRejection", onUnhandled);
    const { cache, loads } = setup();
    const first = cache.getMany(["a"]);
    const second = cache.getMany(["a", "b"]);
    await sleep(5);
    loads[1]!.reject(new Error("b failed"));
    await expect(second).rejects.toThrow("b failed");
    loads[0]!.reject(new Error("a failed"));
    await expect(first).rejects.toThrow("a failed");
    await sleep(20);
    expect(unhandled).toEqual([]);
  });
});

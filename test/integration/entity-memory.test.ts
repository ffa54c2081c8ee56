import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEntityMemory } from "../../src/cache/entity-memory.ts";
import { createRedisClient } from "../../src/cache/redis-client.ts";
import { createMetrics } from "../../src/metrics.ts";
import { ENTITY_CAP, EntityTimeline, type Sighting } from "../../src/model/entity-features.ts";
import { createTestContext, type TestContext } from "../support/context.ts";

/*
 * Issue 36 §2: the scorer's entity memory on the real Redis answers what the trainer's in-process
 * timeline answers for the same transactions — round by round, on a replay of what it recorded
 * already, and as of each transaction's own time when asked later (a backtest).
 */

const HOUR = 3_600_000;
const T0 = Date.parse("2026-11-01T00:00:00Z");
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx?.cleanup();
});

/** A seeded stream: 40 users over 5 days on 8 merchants and 10 devices, some shared, in time order. */
function stream(n: number, seed: number): Sighting[] {
  let s = seed;
  const rand = () => {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
    return s / 2_147_483_648;
  };
  const out: Sighting[] = [];
  let t = T0;
  for (let i = 0; i < n; i++) {
    t += Math.floor(rand() * 0.4 * HOUR) + (rand() < 0.1 ? 0 : 1);
    const user = `u${Math.floor(rand() * 40)}`;
    const s: Sighting = { transactionId: `t${i}`, user, receivedMs: t };
    if (rand() < 0.95) s.merchant_id = `m${Math.floor(rand() * 8)}`;
    if (rand() < 0.9) s.device_id = rand() < 0.3 ? "shared-device" : `d-${user}`;
    out.push(s);
  }
  return out;
}

const values = (m: ReadonlyMap<string, Float64Array>) => [...m].map(([id, v]) => `${id}:${[...v].join("/")}`);

describe("entity memory", () => {
  it("answers as the trainer's timeline does, round by round, on a replay and as of each transaction's time", async () => {
    const redis = createRedisClient(ctx.config.redis.url, ctx.logger);
    try {
      const memory = createEntityMemory({
        redis,
        keyPrefix: `${ctx.config.redis.keyPrefix}parity:`,
        retentionMs: 30 * 24 * HOUR,
        logger: ctx.logger,
      });
      const txs = stream(1_500, 7);
      const timeline = new EntityTimeline();
      const expected = new Map(txs.map((s) => [s.transactionId, timeline.observe(s)]));
      // Live: rounds of uneven sizes, each recorded.
      const live = new Map<string, Float64Array>();
      for (let i = 0, k = 1; i < txs.length; i += k, k = (k * 7) % 97) {
        for (const [id, v] of await memory.observe(txs.slice(i, i + k), true)) live.set(id, v);
      }
      expect(values(live)).toEqual(values(expected));
      // Something to compare: shared merchants and the shared device read several other users, capped.
      const all = [...expected.values()];
      expect(all.some((v) => v[0]! > 5)).toBe(true);
      expect(all.some((v) => v[1]! > 1)).toBe(true);
      expect(all.every((v) => v[0]! <= ENTITY_CAP && v[1]! <= ENTITY_CAP)).toBe(true);
      // A replay of the same transactions (recorded again): nothing changes, every answer as of its time.
      expect(values(await memory.observe(txs, true))).toEqual(values(expected));
      // A backtest of the last half, asked after everything was recorded: the same, as of each one's time.
      expect(values(await memory.observe(txs.slice(750), false))).toEqual(
        values(new Map([...expected].slice(750))),
      );
    } finally {
      redis.disconnect();
    }
  });

  it("records nothing on a dry run, and reads 0 (counted) when Redis is away", async () => {
    const redis = createRedisClient(ctx.config.redis.url, ctx.logger);
    const prefix = `${ctx.config.redis.keyPrefix}dry:`;
    try {
      const memory = createEntityMemory({
        redis,
        keyPrefix: prefix,
        retentionMs: 30 * 24 * HOUR,
        logger: ctx.logger,
      });
      const txs = stream(50, 3);
      await memory.observe(txs, false);
      expect(await redis.keys(`${prefix}*`)).toEqual([]);
      await memory.observe(txs, true);
      expect((await redis.keys(`${prefix}*`)).length).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
    const away = createRedisClient("redis://127.0.0.1:1", ctx.logger);
    const metrics = createMetrics({ defaults: false });
    try {
      const memory = createEntityMemory({
        redis: away,
        keyPrefix: prefix,
        retentionMs: HOUR * 24 * 30,
        failures: metrics.consumer.entityFailures,
        logger: ctx.logger,
      });
      const got = await memory.observe(stream(20, 5), true);
      expect(got.size).toBe(20);
      expect([...got.values()].every((v) => v.every((x) => x === 0))).toBe(true);
      const failures = await metrics.registry.getSingleMetric("sentinel_entity_memory_failures_total")!.get();
      expect(failures.values[0]?.value).toBe(1);
    } finally {
      away.disconnect();
    }
  });
});

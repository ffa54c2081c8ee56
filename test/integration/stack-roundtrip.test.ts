import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, sqlClient, type TestContext } from "../support/context.ts";
import { readTopic } from "../support/topics.ts";
import { testProducer } from "../support/workload.ts";

/* The foundation works: a message through the real Kafka, a row through the real PostgreSQL, a key
   through the real Redis — each in the test's own topic, database and key prefix. */

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx?.cleanup();
});

describe("local stack", () => {
  it("round-trips a message through Kafka with acks=all", async () => {
    const producer = testProducer(ctx.kafka);
    await producer.connect();
    await producer.send({
      topic: ctx.config.kafka.topics.dlq,
      acks: -1,
      messages: [{ key: "k", value: "hello" }],
    });
    await producer.disconnect();
    const [m] = await readTopic(ctx.kafka, ctx.config.kafka.topics.dlq, 1);
    expect(m?.key?.toString()).toBe("k");
    expect(m?.value?.toString()).toBe("hello");
  });

  it("created the transactions topic with the configured partitions", async () => {
    const admin = ctx.kafka.admin();
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: [ctx.config.kafka.topics.transactions] });
    await admin.disconnect();
    expect(meta.topics[0]!.partitions).toHaveLength(12);
  });

  it("round-trips a row through PostgreSQL, money exact", async () => {
    const db = await sqlClient(ctx.config);
    try {
      await db.query(
        `INSERT INTO user_profiles (user_id, status, risk_tier, home_country, currency, per_transaction_limit, daily_limit)
         VALUES ('u1', 'active', 'low', 'US', 'USD', '0.10', '0.20')`,
      );
      const { rows } = await db.query(
        "SELECT (per_transaction_limit + daily_limit)::text AS s FROM user_profiles",
      );
      expect(rows[0].s).toBe("0.30");
    } finally {
      await db.end();
    }
  });

  it("round-trips a key through Redis", async () => {
    const redis = new Redis(ctx.config.redis.url);
    try {
      await redis.set(`${ctx.config.redis.keyPrefix}probe`, "1", "EX", 60);
      expect(await redis.get(`${ctx.config.redis.keyPrefix}probe`)).toBe("1");
    } finally {
      redis.disconnect();
    }
  });
});

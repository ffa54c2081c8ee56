import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prng } from "../../src/random.ts";
import { sqlClient, type TestContext } from "../support/context.ts";
import { type InProcess, startInProcess } from "../support/in-process.ts";
import { eventually } from "../support/topics.ts";
import { testProducer } from "../support/workload.ts";

/*
 * Issue 11, item 2: a burst of poison on one partition must not stall it (law 4). 1,200 values of
 * mixed sizes up to MESSAGE_MAX_BYTES (and some over it), all on partition 0, then good messages:
 * the round's dead letters are several megabytes, far over the broker's request limit, so they
 * must go out in requests split by bytes. Every letter arrives, the good ones are stored, lag 0.
 */

const POISON = 1_200;
const MAX = 16_384;

let app: InProcess;
let ctx: TestContext;

beforeAll(async () => {
  app = await startInProcess({
    consumer: true,
    overrides: { TOPIC_TRANSACTIONS_PARTITIONS: "1", MESSAGE_MAX_BYTES: String(MAX) },
  });
  ctx = app.ctx;
});
afterAll(async () => {
  await app?.stop();
});

describe("a burst of large poison messages on one partition", () => {
  it("dead-letters all of them and moves on (no stalled partition)", async () => {
    const rand = prng(5);
    const poison = [...Array(POISON)].map((_, i) => {
      // not JSON, sizes from 100 B to MESSAGE_MAX_BYTES, every 50th one over it (oversized)
      const size = i % 50 === 0 ? MAX + 500 : 100 + Math.floor(rand() * (MAX - 100));
      return { key: "burst-user", value: Buffer.alloc(size, 0x41 + (i % 26)) };
    });
    const goods = [...Array(20)].map(() => ({
      transaction_id: randomUUID(),
      user_id: "burst-user",
      amount: "1.00",
      currency: "USD",
    }));
    const producer = testProducer(ctx.kafka);
    await producer.connect();
    for (let i = 0; i < poison.length; i += 40) {
      await producer.send({
        topic: ctx.config.kafka.topics.transactions,
        acks: -1,
        messages: poison.slice(i, i + 40),
      });
    }
    await producer.send({
      topic: ctx.config.kafka.topics.transactions,
      acks: -1,
      messages: goods.map((g) => ({ key: g.user_id, value: JSON.stringify(g) })),
    });
    await producer.disconnect();

    const admin = ctx.kafka.admin();
    await admin.connect();
    try {
      const dlqCount = async () =>
        (await admin.fetchTopicOffsets(ctx.config.kafka.topics.dlq)).reduce((n, p) => n + Number(p.high), 0);
      expect(await eventually(async () => (await dlqCount()) >= POISON, 90_000, 500)).toBe(true);
      expect(await dlqCount()).toBe(POISON);
      const lagZero = await eventually(async () => {
        const [committed] = await admin.fetchOffsets({
          groupId: ctx.config.consumer.group,
          topics: [ctx.config.kafka.topics.transactions],
        });
        return committed?.partitions[0]?.offset === String(POISON + goods.length);
      }, 30_000);
      expect(lagZero).toBe(true);
    } finally {
      await admin.disconnect();
    }
    const db = await sqlClient(ctx.config);
    try {
      const { rows } = await db.query("SELECT count(*)::int AS n FROM decisions WHERE live");
      expect(rows[0].n).toBe(goods.length);
    } finally {
      await db.end();
    }
    const metrics = await app.rt.metrics.registry.getSingleMetricAsString("sentinel_dead_letters_total");
    expect(metrics).toContain(`reason="not_json"} ${POISON - POISON / 50}`);
    expect(metrics).toContain(`reason="oversized"} ${POISON / 50}`);
  });
});

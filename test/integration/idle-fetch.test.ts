import type { Kafka } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGroupConsumer } from "../../src/kafka/group-consumer.ts";
import { createMetrics } from "../../src/metrics.ts";
import { createDatabasePool } from "../../src/store/pool.ts";
import { createDecisionListener } from "../../src/sync/decision-listener.ts";
import { createDeliveryStore } from "../../src/webhooks/delivery-store.ts";
import { startIntake } from "../../src/webhooks/intake.ts";
import { createTestContext, type TestContext } from "../support/context.ts";
import { eventually } from "../support/topics.ts";

/* Fork change 10 through our consumer factory, on the real broker: a member that waits for 256 KiB
   (the scorer's fetch) asks an idle broker a few times a second, not 40, and still reads a lone
   record as it arrives. */

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx?.cleanup();
});

/** The real Kafka object, but the consumers it makes are kept, so a test can count their requests. */
function keepingConsumers(): { kafka: Kafka; fetches: () => number; joined: () => boolean } {
  let fetches = 0;
  let joined = false;
  const kafka = Object.create(ctx.kafka, {
    consumer: {
      value: (config: Parameters<Kafka["consumer"]>[0]) => {
        const consumer = ctx.kafka.consumer(config);
        consumer.on(consumer.events.REQUEST, ({ payload }) => {
          if ((payload as { apiName: string }).apiName === "Fetch") fetches++;
        });
        consumer.on(consumer.events.GROUP_JOIN, () => {
          joined = true;
        });
        return consumer;
      },
    },
  }) as Kafka;
  return { kafka, fetches: () => fetches, joined: () => joined };
}

/** Fetch requests in two seconds, once the member has joined and settled. */
async function idleFetches(kept: ReturnType<typeof keepingConsumers>): Promise<number> {
  expect(await eventually(async () => kept.joined(), 30_000)).toBe(true);
  await new Promise((r) => setTimeout(r, 1_000)); // settled: its offsets resolved, fetching
  const before = kept.fetches();
  await new Promise((r) => setTimeout(r, 2_000));
  return kept.fetches() - before;
}

describe("an idle member's fetches", () => {
  it.each([
    ["without an idle wait", undefined, 20, Number.POSITIVE_INFINITY],
    ["with a 250 ms idle wait", 250, 0, 12],
  ])(
    "%s",
    async (_label, idleWaitMs, atLeast, atMost) => {
      const topic = ctx.config.kafka.topics.transactions;
      const kept = keepingConsumers();
      const { consumer } = createGroupConsumer(kept.kafka, {
        groupId: `${ctx.config.consumer.group}-idle-${idleWaitMs ?? "none"}`,
        name: "idle test",
        logger: ctx.logger,
        maxWaitTimeInMs: 25,
        minBytes: 262_144,
        idleMaxWaitTimeInMs: idleWaitMs,
        onFatal: () => {},
      });
      const seen: string[] = [];
      await consumer.connect();
      try {
        await consumer.subscribe({ topic, fromBeginning: false });
        await consumer.run({
          eachMessage: async ({ message }) => {
            seen.push(message.value!.toString());
          },
        });
        // 25 ms waits: ~80 in two seconds; 250 ms idle waits: ~8.
        const inTwoSeconds = await idleFetches(kept);
        expect(inTwoSeconds).toBeGreaterThanOrEqual(atLeast);
        expect(inTwoSeconds).toBeLessThanOrEqual(atMost);

        const producer = ctx.kafka.producer();
        await producer.connect();
        await producer.send({ topic, messages: [{ value: `lone-${idleWaitMs}` }] });
        await producer.disconnect();
        expect(await eventually(async () => seen.includes(`lone-${idleWaitMs}`), 20_000)).toBe(true);
      } finally {
        await consumer.disconnect();
      }
    },
    60_000,
  );
});

/* The long-running readers with minBytes 1 (the broker answers as soon as anything is there): their
   wait bounds only an idle fetch, so it is what they spend idle. 500 ms: ~4 fetches in two seconds
   (the listener at 100 ms asked ~20, the intake at 50 ms ~40). */
describe("an idle process's other readers", () => {
  it("the ingress's decision listener asks a few times a second, and still hears a decision at once", async () => {
    const kept = keepingConsumers();
    const heard: string[] = [];
    const listener = createDecisionListener({
      kafka: kept.kafka,
      topics: ctx.config.kafka.topics,
      groupPrefix: `${ctx.config.consumer.group}-idle-listener`,
      logger: ctx.logger,
      onDecision: (d) => heard.push(d.transaction_id),
      onConflict: () => {},
    });
    listener.start();
    try {
      expect(await idleFetches(kept)).toBeLessThanOrEqual(8);
      const producer = ctx.kafka.producer();
      await producer.connect();
      await producer.send({
        topic: ctx.config.kafka.topics.decisions,
        messages: [{ value: JSON.stringify({ transaction_id: "idle-listener-1", decision: "approve" }) }],
      });
      await producer.disconnect();
      expect(await eventually(async () => heard.includes("idle-listener-1"), 20_000)).toBe(true);
    } finally {
      await listener.stop();
    }
  }, 60_000);

  it("the webhook intake asks a few times a second", async () => {
    const kept = keepingConsumers();
    const pool = await createDatabasePool(ctx.config.database.url, { maxPoolSize: 2 });
    const producer = ctx.kafka.producer();
    await producer.connect();
    const intake = await startIntake({
      kafka: kept.kafka,
      groupId: `${ctx.config.consumer.group}-idle-intake`,
      topics: ctx.config.kafka.topics,
      deliveries: createDeliveryStore({ pool }),
      onStored: () => {},
      metrics: createMetrics({ defaults: false }).webhooks,
      logger: ctx.logger,
      sessionTimeoutMs: ctx.config.consumer.sessionTimeoutMs,
      onFatal: () => {},
      deadLetters: { producer, topic: ctx.config.kafka.topics.dlq, maxBytes: 1_000_000 },
    });
    try {
      expect(await idleFetches(kept)).toBeLessThanOrEqual(8);
    } finally {
      await intake.stop();
      await producer.disconnect();
      await pool.end();
    }
  }, 60_000);
});

import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sqlClient, type TestContext } from "../support/context.ts";
import { type InProcess, startInProcess } from "../support/in-process.ts";
import { eventually, readTopic } from "../support/topics.ts";
import { testProducer } from "../support/workload.ts";

/* A message that passes validation but that PostgreSQL refuses does not stall its partition: the
   consumer narrows the chunk down to it and dead-letters it as store_rejected. The refusal is a
   real CHECK constraint added to this test's own database. */

let app: InProcess;
let ctx: TestContext;

beforeAll(async () => {
  app = await startInProcess({
    overrides: { TOPIC_TRANSACTIONS_PARTITIONS: "1" },
    consumer: true,
    prepare: async (sandbox) => {
      const db = await sqlClient(sandbox.config);
      await db.query(
        "ALTER TABLE transactions ADD CONSTRAINT test_refuse CHECK (merchant_id IS DISTINCT FROM 'refuse-me')",
      );
      await db.end();
    },
  });
  ({ ctx } = app);
});
afterAll(async () => {
  await app?.stop();
});

const tx = (merchant: string) => ({
  transaction_id: randomUUID(),
  user_id: "u1",
  amount: "3.00",
  currency: "USD",
  timestamp: new Date().toISOString(),
  merchant_id: merchant,
});

describe("store-rejected messages", () => {
  it("dead-letters the one message PostgreSQL refuses and stores the others", async () => {
    const messages = [tx("m1"), tx("m2"), tx("refuse-me"), tx("m3"), tx("m4")];
    const producer = testProducer(ctx.kafka);
    await producer.connect();
    await producer.send({
      topic: ctx.config.kafka.topics.transactions,
      acks: -1,
      messages: messages.map((m) => ({ key: m.user_id, value: JSON.stringify(m) })),
    });
    await producer.disconnect();

    const [letter, ...more] = await readTopic(ctx.kafka, ctx.config.kafka.topics.dlq, 1);
    expect(more).toHaveLength(0);
    expect(letter?.headers?.["x-error-reason"]?.toString()).toBe("store_rejected");
    expect(letter?.headers?.["x-source-offset"]?.toString()).toBe("2");
    expect(JSON.parse(letter!.value!.toString()).merchant_id).toBe("refuse-me");

    const db = await sqlClient(ctx.config);
    try {
      const stored = await eventually(
        async () => (await db.query("SELECT 1 FROM decisions")).rowCount === 4,
        30_000,
      );
      expect(stored).toBe(true);
      const { rows } = await db.query("SELECT merchant_id FROM transactions ORDER BY source_offset");
      expect(rows.map((r) => r.merchant_id)).toEqual(["m1", "m2", "m3", "m4"]);
    } finally {
      await db.end();
    }
  });
});

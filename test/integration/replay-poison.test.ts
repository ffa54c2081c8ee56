import { randomUUID } from "node:crypto";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, sqlClient, type TestContext } from "../support/context.ts";
import { jsonLines, runSentinel } from "../support/processes.ts";
import { readAll } from "../support/topics.ts";
import { testProducer } from "../support/workload.ts";

/*
 * Issue 11, item 8, for replay: a message PostgreSQL refuses in a replayed range is dead-lettered
 * as the live consumer would (narrowed down by halving), not a reason to abort the replay; and a
 * replay whose range reaches past what the live group has committed says so. No live consumer
 * runs here: the group has committed nothing.
 */

let ctx: TestContext;
let db: pg.Client;

beforeAll(async () => {
  ctx = await createTestContext({ TOPIC_TRANSACTIONS_PARTITIONS: "1" });
  db = await sqlClient(ctx.config);
  await db.query(
    "ALTER TABLE transactions ADD CONSTRAINT test_refuse CHECK (merchant_id IS DISTINCT FROM 'refuse-me')",
  );
});
afterAll(async () => {
  await db?.end();
  await ctx?.cleanup();
});

const tx = (merchant: string) => ({
  transaction_id: randomUUID(),
  user_id: "replay-user",
  amount: "4.00",
  currency: "USD",
  merchant_id: merchant,
});

describe("replay with poison in its range", () => {
  it("dead-letters a refused message, stores the rest, and warns about the uncommitted range", async () => {
    const messages = [tx("m1"), tx("refuse-me"), tx("m2"), tx("m3")];
    const producer = testProducer(ctx.kafka);
    await producer.connect();
    await producer.send({
      topic: ctx.config.kafka.topics.transactions,
      acks: -1,
      messages: [
        ...messages.map((m) => ({ key: m.user_id, value: JSON.stringify(m) })),
        { key: "replay-user", value: "{not json" },
      ],
    });
    await producer.disconnect();

    const run = await runSentinel(["replay", "--from", "earliest", "--json", "--no-progress"], ctx.env);
    expect(run.code, run.output).toBe(0);
    const [summary] = jsonLines<{ read: number; newlyStored: number; deadLettered: number }>(run);
    expect(summary).toMatchObject({ read: 5, newlyStored: 3, deadLettered: 2 });
    expect(run.output).toMatch(/warning: the range reaches past what group .* has committed/);

    const { rows } = await db.query("SELECT merchant_id FROM transactions ORDER BY source_offset");
    expect(rows.map((r) => r.merchant_id)).toEqual(["m1", "m2", "m3"]);
    const letters = await readAll(ctx.kafka, ctx.config.kafka.topics.dlq);
    expect(letters.map((m) => m.headers?.["x-error-reason"]?.toString())).toEqual([
      "store_rejected",
      "not_json",
    ]);

    // Again: nothing new is stored or lettered (the letters are on the DLQ already).
    const again = await runSentinel(["replay", "--from", "earliest", "--json", "--no-progress"], ctx.env);
    expect(again.code, again.output).toBe(0);
    expect(jsonLines<{ deadLettered: number; alreadyDeadLettered: number }>(again)[0]).toMatchObject({
      deadLettered: 0,
      alreadyDeadLettered: 2,
    });
    expect(await readAll(ctx.kafka, ctx.config.kafka.topics.dlq)).toHaveLength(2);
  });
});

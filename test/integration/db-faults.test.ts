import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { startConsumer } from "../../src/consumer/main.ts";
import type { Scorer } from "../../src/consumer/scorer.ts";
import { createRuntime, type Runtime } from "../../src/runtime.ts";
import { createTestContext, sqlClient, type TestContext } from "../support/context.ts";
import { eventually, readAll } from "../support/topics.ts";
import { testProducer } from "../support/workload.ts";

/*
 * Issue 11, item 5: a database fault that is not about the message is an outage — retried, nothing
 * dead-lettered — not a reason to dead-letter the stream. The consumer runs as a role of its own
 * (not a superuser), so a real REVOKE takes effect; a CHECK constraint that refuses every row
 * stands for a fault that the halving pins to no single message.
 */

let ctx: TestContext;
let admin: pg.Client;
let rt: Runtime;
let scorer: Scorer;
const role = `sentinel_consumer_${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  ctx = await createTestContext({ TOPIC_TRANSACTIONS_PARTITIONS: "1" });
  admin = await sqlClient(ctx.config);
  await admin.query(`CREATE ROLE ${role} LOGIN`);
  await admin.query(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO ${role}`);
  await admin.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
  // A week's partitions are created through this function (migration 016), as the runtime role does.
  await admin.query(
    `GRANT EXECUTE ON FUNCTION sentinel_ensure_partitions(timestamptz, timestamptz) TO ${role}`,
  );
  const url = new URL(ctx.config.database.url);
  url.username = role;
  rt = await createRuntime(
    loadConfig({ ...ctx.env, DATABASE_URL: url.toString(), LOG_LEVEL: "error" }),
    ctx.logger,
  );
  await rt.producer.ready(30_000);
  scorer = await startConsumer(rt);
});
afterAll(async () => {
  await scorer?.stop();
  await rt?.close();
  await admin?.query(`DROP OWNED BY ${role}`).catch(() => {});
  await admin?.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
  await admin?.end();
  await ctx?.cleanup();
});

const tx = () => ({ transaction_id: randomUUID(), user_id: "fault-user", amount: "2.00", currency: "USD" });

async function produce(n: number) {
  const txs = [...Array(n)].map(tx);
  const producer = testProducer(ctx.kafka);
  await producer.connect();
  await producer.send({
    topic: ctx.config.kafka.topics.transactions,
    acks: -1,
    messages: txs.map((t) => ({ key: t.user_id, value: JSON.stringify(t) })),
  });
  await producer.disconnect();
  return txs;
}

const stored = async () => Number((await admin.query("SELECT count(*) AS n FROM decisions")).rows[0].n);
const letters = async () => (await readAll(ctx.kafka, ctx.config.kafka.topics.dlq, 5_000)).length;

describe("database faults that are not about the message", () => {
  it("REVOKE INSERT: retried, nothing dead-lettered; GRANT: stored", async () => {
    await admin.query(`REVOKE INSERT ON transactions FROM ${role}`);
    await produce(10);
    await sleep(4_000); // several retries' worth
    expect(await stored()).toBe(0);
    expect(await letters()).toBe(0);
    await admin.query(`GRANT INSERT ON transactions TO ${role}`);
    expect(await eventually(async () => (await stored()) === 10, 30_000)).toBe(true);
    expect(await letters()).toBe(0);
  });

  it("a constraint refusing every row: an outage, not ten store_rejected letters", async () => {
    await admin.query("ALTER TABLE transactions ADD CONSTRAINT refuse_all CHECK (amount < 0) NOT VALID");
    await produce(10);
    await sleep(4_000);
    expect(await stored()).toBe(10); // the 10 of the first test only
    expect(await letters()).toBe(0);
    await admin.query("ALTER TABLE transactions DROP CONSTRAINT refuse_all");
    expect(await eventually(async () => (await stored()) === 20, 30_000)).toBe(true);
    expect(await letters()).toBe(0);
  });
});

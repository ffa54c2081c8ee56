import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withAdmin } from "../../src/kafka/admin.ts";
import { createTestContext, type TestContext } from "../support/context.ts";
import { runSentinel } from "../support/processes.ts";
import { generateTransactions, produceTransactions } from "../support/workload.ts";

/*
 * Issue 34: a replay never silently reads less than asked. The topic loses its first messages the
 * way retention removes them (DeleteRecords moves the log start), and a replay over a range that
 * began among them fails, saying what was asked, what is left and how many are gone — unless
 * --allow-partial, when it reads what is left and its summary says so. `init` sets retention.ms
 * on every topic.
 */

let ctx: TestContext;
const TOTAL = 600;
const DROPPED = 200;

beforeAll(async () => {
  ctx = await createTestContext({ TOPIC_TRANSACTIONS_PARTITIONS: "1" });
  const users = Array.from({ length: 20 }, (_, i) => `ret-${i}`);
  await produceTransactions(
    ctx.kafka,
    ctx.config.kafka.topics.transactions,
    generateTransactions(TOTAL, users, new Map()),
  );
  await withAdmin(ctx.kafka, async (admin) => {
    await admin.fetchTopicMetadata({ topics: [ctx.config.kafka.topics.transactions] });
    await admin.deleteTopicRecords({
      topic: ctx.config.kafka.topics.transactions,
      partitions: [{ partition: 0, offset: String(DROPPED) }],
    });
  });
});

afterAll(async () => {
  await ctx?.cleanup();
});

describe("a replay over a range the topic no longer holds", () => {
  it("fails with what was asked, what is left and how many are gone; reads nothing", async () => {
    const r = await runSentinel(["replay", "--from", "0:0", "--dry-run", "--no-progress"], ctx.env);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/starts before what .* still holds: asked from 0:0/);
    expect(r.output).toMatch(/earliest messages left are at offsets 0:200/);
    expect(r.output).toMatch(/200 message\(s\) before them are gone/);
    expect(r.output).not.toMatch(/read +\d+ messages/);
  });

  it("by time: a start before the earliest message held is refused too", async () => {
    const r = await runSentinel(
      ["replay", "--from", new Date(Date.now() - 86_400_000).toISOString(), "--dry-run", "--no-progress"],
      ctx.env,
    );
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/up to 200 message\(s\) before them are gone/);
  });

  it("with --allow-partial reads what is left and says so", async () => {
    const r = await runSentinel(
      ["replay", "--from", "0:0", "--dry-run", "--no-progress", "--allow-partial"],
      ctx.env,
    );
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`read +${TOTAL - DROPPED} messages`));
    expect(r.stdout).toMatch(/PARTIAL +up to 200 message\(s\)/);
  });

  it("a range inside what is held is read whole, without a word", async () => {
    const r = await runSentinel(["replay", "--from", "0:300", "--dry-run", "--no-progress"], ctx.env);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`read +${TOTAL - 300} messages`));
    expect(r.stdout).not.toMatch(/PARTIAL/);
  });
});

describe("sentinel init", () => {
  it("sets retention.ms on every topic, and changes it on existing ones keeping their other settings", async () => {
    const r = await runSentinel(["init"], {
      ...ctx.env,
      TOPIC_TRANSACTIONS_RETENTION_DAYS: "30",
      TOPIC_DLQ_RETENTION_DAYS: "60",
    });
    expect(r.code, r.output).toBe(0);
    const { ConfigResourceTypes } = (await import("kafkajs")).default;
    const topics = Object.values(ctx.config.kafka.topics);
    const described = await withAdmin(ctx.kafka, (admin) =>
      admin.describeConfigs({
        includeSynonyms: false,
        resources: topics.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
      }),
    );
    const value = (topic: string, name: string) =>
      described.resources
        .find((x) => x.resourceName === topic)
        ?.configEntries.find((c) => c.configName === name)?.configValue;
    const t = ctx.config.kafka.topics;
    expect(value(t.transactions, "retention.ms")).toBe(String(30 * 86_400_000));
    expect(value(t.dlq, "retention.ms")).toBe(String(60 * 86_400_000));
    expect(value(t.decisions, "retention.ms")).toBe("-1"); // the sandbox's: keep everything
    expect(value(t.transactions, "message.timestamp.type")).toBe("LogAppendTime");
    expect(value(t.transactions, "min.insync.replicas")).toBe("1");
  });
});

describe("sentinel simulate on a topic stamped with the producers' time", () => {
  let created: TestContext;
  beforeAll(async () => {
    created = await createTestContext({
      TOPIC_TRANSACTIONS_TIMESTAMP_TYPE: "CreateTime",
      TOPIC_TRANSACTIONS_RETENTION_DAYS: "7",
    });
  });
  afterAll(async () => {
    await created?.cleanup();
  });

  it("refuses to write days the retention would delete at once, unless --allow-partial", async () => {
    const refused = await runSentinel(["simulate", "--users", "5", "--days", "30"], created.env);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toMatch(
      /CreateTime\) and keeps 7 days: a simulation from .* would be partly deleted/,
    );
    const fits = await runSentinel(["simulate", "--users", "5", "--days", "3"], created.env);
    expect(fits.code, fits.output).toBe(0);
    const partial = await runSentinel(
      ["simulate", "--users", "5", "--days", "30", "--allow-partial"],
      created.env,
    );
    expect(partial.code, partial.output).toBe(0);
  });
});

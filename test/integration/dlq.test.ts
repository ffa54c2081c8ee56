import { randomUUID } from "node:crypto";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, sqlClient, type TestContext } from "../support/context.ts";
import { jsonLines, type Proc, runSentinel, spawnSentinel } from "../support/processes.ts";
import { eventually, readAll } from "../support/topics.ts";
import { produceTransactions, testProducer } from "../support/workload.ts";

/*
 * `sentinel dlq list` and `sentinel dlq redrive` as an operator runs them, against the real
 * services. The cause of the poison is real and fixable: a CHECK constraint in this test's database
 * refuses some merchant (store_rejected); it is dropped ("the cause is fixed") before the redrive.
 * Two messages that are not JSON stay poison whatever is fixed.
 */

let ctx: TestContext;
let db: pg.Client;
let live: Proc;

const GOOD = 20;
const REFUSED = 3;
const tx = (merchant: string, user: string) => ({
  transaction_id: randomUUID(),
  user_id: user,
  amount: "4.20",
  currency: "USD",
  timestamp: new Date().toISOString(),
  merchant_id: merchant,
});
const refused = Array.from({ length: REFUSED }, (_, i) => tx("refuse-me", `u-r${i}`));

const sentinel = (args: string[]) => runSentinel(args, ctx.env, 60_000);
async function jsonOut<T>(args: string[]): Promise<T[]> {
  const r = await sentinel([...args, "--json"]);
  expect(r.code, r.output).toBe(0);
  return jsonLines<T>(r);
}
const count = async (sql: string) => Number((await db.query(sql)).rows[0].n);

type Letter = {
  reason: string;
  source: { partition: number; offset: string };
  redriven: boolean;
  value: string;
};
type Redrive = { matched: number; alreadyRedriven: number; moved: number; byReason: Record<string, number> };

beforeAll(async () => {
  ctx = await createTestContext({ TOPIC_TRANSACTIONS_PARTITIONS: "3" });
  db = await sqlClient(ctx.config);
  await db.query(
    "ALTER TABLE transactions ADD CONSTRAINT test_refuse CHECK (merchant_id IS DISTINCT FROM 'refuse-me')",
  );
  const good = Array.from({ length: GOOD }, (_, i) => tx(`m${i}`, `u-g${i % 7}`));
  await produceTransactions(ctx.kafka, ctx.config.kafka.topics.transactions, [...good, ...refused]);
  const producer = testProducer(ctx.kafka);
  await producer.connect();
  await producer.send({
    topic: ctx.config.kafka.topics.transactions,
    acks: -1,
    messages: [
      { key: "u-x", value: "{broken" },
      { key: "u-y", value: "<xml/>" },
    ],
  });
  await producer.disconnect();
  live = spawnSentinel(["consume"], { ...ctx.env, LOG_LEVEL: "info" });
  expect(
    await eventually(async () => (await count("SELECT count(*) AS n FROM decisions")) === GOOD, 60_000),
  ).toBe(true);
  expect(
    await eventually(
      async () => (await readAll(ctx.kafka, ctx.config.kafka.topics.dlq, 10_000)).length === REFUSED + 2,
    ),
  ).toBe(true);
}, 120_000);

afterAll(async () => {
  await live?.stop("SIGKILL");
  await db?.end();
  await ctx?.cleanup();
});

describe("sentinel dlq", () => {
  it("lists dead letters with reason, source and a preview, filtered by reason and time", async () => {
    const all = await jsonOut<Letter>(["dlq", "list"]);
    const lettered = live
      .output()
      .split("\n")
      .filter((l) => l.includes("dead-lettered") || l.includes("retrying"));
    expect(all.map((l) => l.reason).sort(), lettered.join("\n")).toEqual([
      "not_json",
      "not_json",
      "store_rejected",
      "store_rejected",
      "store_rejected",
    ]);
    expect(all.every((l) => !l.redriven)).toBe(true);
    const ids = all
      .filter((l) => l.reason === "store_rejected")
      .map((l) => JSON.parse(Buffer.from(l.value, "base64").toString()).transaction_id)
      .sort();
    expect(ids).toEqual(refused.map((t) => t.transaction_id).sort());

    expect(await jsonOut<Letter>(["dlq", "list", "--reason", "not_json"])).toHaveLength(2);
    expect(
      await jsonOut<Letter>(["dlq", "list", "--since", new Date(Date.now() + 60_000).toISOString()]),
    ).toHaveLength(0);

    const table = await sentinel(["dlq", "list"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain("store_rejected");
    expect(table.stdout).toContain('{"transaction_id"');
    expect(table.stdout).toMatch(
      /5 dead letter\(s\): (store_rejected 3, not_json 2|not_json 2, store_rejected 3)/,
    );
  });

  it("redrives fixed letters once: processed once, and a second redrive moves nothing", async () => {
    const topic = ctx.config.kafka.topics.transactions;
    const onTopic = (await readAll(ctx.kafka, topic)).length;

    const [dry] = await jsonOut<Redrive>(["dlq", "redrive", "--reason", "store_rejected", "--dry-run"]);
    expect(dry).toMatchObject({ matched: REFUSED, alreadyRedriven: 0, moved: REFUSED });
    expect((await readAll(ctx.kafka, topic)).length).toBe(onTopic);

    await db.query("ALTER TABLE transactions DROP CONSTRAINT test_refuse"); // the cause is fixed
    expect(await count("SELECT count(*) AS n FROM audit_log WHERE action = 'dlq.redrive'")).toBe(0);
    const [first] = await jsonOut<Redrive>(["dlq", "redrive", "--reason", "store_rejected"]);
    // Issue 35: a redrive that moves letters is audited (the dry run above was not).
    expect(await count("SELECT count(*) AS n FROM audit_log WHERE action = 'dlq.redrive'")).toBe(1);
    expect(first).toMatchObject({
      matched: REFUSED,
      alreadyRedriven: 0,
      moved: REFUSED,
      byReason: { store_rejected: REFUSED },
    });
    expect(
      await eventually(
        async () => (await count("SELECT count(*) AS n FROM decisions")) === GOOD + REFUSED,
        60_000,
      ),
    ).toBe(true);
    const stored = await db.query(
      "SELECT t.transaction_id::text AS id, count(d.*)::int AS n FROM transactions t JOIN decisions d USING (transaction_id) WHERE merchant_id = 'refuse-me' GROUP BY 1",
    );
    expect(stored.rows.map((r) => r.id).sort()).toEqual(refused.map((t) => t.transaction_id).sort());
    expect(stored.rows.every((r) => r.n === 1)).toBe(true);

    const [second] = await jsonOut<Redrive>(["dlq", "redrive", "--reason", "store_rejected"]);
    expect(second).toMatchObject({ matched: REFUSED, alreadyRedriven: REFUSED, moved: 0 });
    expect((await readAll(ctx.kafka, topic)).length).toBe(onTopic + REFUSED);
    const listed = await jsonOut<Letter>(["dlq", "list", "--reason", "store_rejected"]);
    expect(listed.every((l) => l.redriven)).toBe(true);
    // The moved messages carry where they came from.
    const moved = (await readAll(ctx.kafka, topic)).filter((m) => m.headers?.["x-redriven-from"]);
    expect(moved).toHaveLength(REFUSED);

    // Still-broken letters redriven come back as new letters (from their new offsets), once each.
    const [rest] = await jsonOut<Redrive>(["dlq", "redrive"]);
    expect(rest).toMatchObject({ moved: 2, byReason: { not_json: 2 } });
    expect(
      await eventually(
        async () => (await readAll(ctx.kafka, ctx.config.kafka.topics.dlq, 10_000)).length === REFUSED + 4,
      ),
    ).toBe(true);
    const [again] = await jsonOut<Redrive>(["dlq", "redrive", "--reason", "not_json", "--dry-run"]);
    expect(again).toMatchObject({ matched: 4, alreadyRedriven: 2, moved: 2 });
    expect(await count("SELECT count(*) AS n FROM transactions")).toBe(GOOD + REFUSED);
  }, 180_000);

  it("refuses a bad reason filter position clearly", async () => {
    const bad = await sentinel(["dlq", "list", "--since", "last tuesday"]);
    expect(bad.code).toBe(2);
    expect(bad.output).toContain("is not earliest, latest, an RFC 3339 time");
  });
});

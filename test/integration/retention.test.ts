import { randomUUID } from "node:crypto";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Decision } from "../../src/domain/decision.ts";
import type { SourcedTransaction, Transaction } from "../../src/domain/transaction.ts";
import { weekStart } from "../../src/store/partitions.ts";
import { createDatabasePool, type DatabasePool } from "../../src/store/pool.ts";
import { applyRetention } from "../../src/store/retention.ts";
import { createTransactionStore, type TransactionStore } from "../../src/store/transaction-store.ts";
import { createTestContext, sqlClient, type TestContext } from "../support/context.ts";
import { approved } from "../support/decisions.ts";
import { runSentinel } from "../support/processes.ts";

/*
 * Issue 34, bounded storage: transactions and decisions live in weekly partitions (migration 016)
 * and retention drops them whole. The laws across a partition boundary: a redelivered copy (same
 * received_at) and a second message with the same id (another received_at, another partition)
 * are both recognised; a user's history reads across the boundary; decisions go with their week.
 */

let ctx: TestContext;
let pool: DatabasePool;
let store: TransactionStore;
let db: pg.Client;
const DAY = 86_400_000;
const NOW = Date.now();
const BOUNDARY = weekStart(NOW) - 7 * DAY; // last week's Monday 00:00 UTC

const decisionOf = (tx: Transaction): Decision => approved(tx, NOW);

const sourced = (id: string, user: string, receivedMs: number, offset: number): SourcedTransaction => ({
  tx: { transaction_id: id, user_id: user, amount: "10.00", currency: "USD" } as Transaction,
  eventTimeMs: receivedMs,
  receivedMs,
  partition: 0,
  offset,
});

const store1 = (s: SourcedTransaction) => store.storeDecided([{ source: s, decision: decisionOf(s.tx) }]);
const count = async (q: string, p: unknown[] = []) => Number((await db.query(q, p)).rows[0].n);

beforeAll(async () => {
  ctx = await createTestContext();
  pool = await createDatabasePool(ctx.config.database.url, { maxPoolSize: 2 });
  store = createTransactionStore({ pool });
  db = await sqlClient(ctx.config);
});

afterAll(async () => {
  await db?.end();
  await pool?.end();
  await ctx?.cleanup();
});

describe("weekly partitions of transactions and decisions", () => {
  it("a redelivered copy and a second message with the same id are recognised across the boundary", async () => {
    const id = randomUUID();
    const first = sourced(id, "part-u1", BOUNDARY - 60_000, 1);
    expect(await store1(first)).toEqual(new Set([id]));
    // The same message again (a redelivery or a replay): the same received_at, the same partition.
    expect((await store1(first)).size).toBe(0);
    // Another message with the same id, received after the boundary: another partition.
    expect((await store1(sourced(id, "part-u1", BOUNDARY + 60_000, 2))).size).toBe(0);
    expect(await count("SELECT count(*) AS n FROM transactions WHERE transaction_id = $1", [id])).toBe(1);
    expect(await count("SELECT count(*) AS n FROM decisions WHERE transaction_id = $1 AND live", [id])).toBe(
      1,
    );
    const where = await db.query(
      "SELECT tableoid::regclass::text AS p FROM transactions WHERE transaction_id = $1",
      [id],
    );
    expect(where.rows[0].p).toMatch(/^transactions_p\d{8}$/);
    expect(await store.findLiveDecisions([id])).toHaveProperty("size", 1);
  });

  it("a user's history reads across the boundary", async () => {
    const user = "part-u2";
    const before = sourced(randomUUID(), user, BOUNDARY - 30_000, 10);
    const after = sourced(randomUUID(), user, BOUNDARY + 30_000, 11);
    await store1(before);
    await store1(after);
    const history = await store.findHistory([user], BOUNDARY - DAY, { withoutState: true });
    expect(history.map((h) => h.transactionId).sort()).toEqual(
      [before.tx.transaction_id, after.tx.transaction_id].sort(),
    );
    const parts = await db.query(
      "SELECT DISTINCT tableoid::regclass::text AS p FROM transactions WHERE user_id = $1 ORDER BY 1",
      [user],
    );
    expect(parts.rowCount).toBe(2);
  });
});

describe("retention", () => {
  it("drops the partitions past the retention whole, decisions with them, and keeps the rest", async () => {
    const old = NOW - 20 * 7 * DAY;
    const oldIds = [randomUUID(), randomUUID()];
    for (const [i, id] of oldIds.entries()) await store1(sourced(id, "ret-old", old + i * 1_000, 20 + i));
    const recent = sourced(randomUUID(), "ret-new", NOW - DAY, 30);
    await store1(recent);
    const result = await applyRetention(pool, {
      transactionsDays: 90,
      casesDays: 365,
      webhookDeliveriesDays: 30,
      outboxDays: 7,
      userStateDays: 366,
    });
    const week = new Date(weekStart(old)).toISOString().slice(0, 10).replaceAll("-", "");
    expect(result.droppedPartitions).toEqual(
      expect.arrayContaining([`transactions_p${week}`, `decisions_p${week}`]),
    );
    expect(
      await count("SELECT count(*) AS n FROM transactions WHERE transaction_id = ANY($1::uuid[])", [oldIds]),
    ).toBe(0);
    expect(
      await count("SELECT count(*) AS n FROM decisions WHERE transaction_id = ANY($1::uuid[])", [oldIds]),
    ).toBe(0);
    expect(
      await count("SELECT count(*) AS n FROM transactions WHERE transaction_id = $1", [
        recent.tx.transaction_id,
      ]),
    ).toBe(1);
    // Nothing recent can be dropped, whatever the caller asks.
    await expect(db.query("SELECT sentinel_drop_partitions(now())")).rejects.toThrow(/at least 7 days ago/);
  });

  it("prunes each user's state older than its retention: buckets of every grain, values last seen before", async () => {
    const old = NOW - 40 * DAY;
    const recent = NOW - DAY;
    await db.query(
      `INSERT INTO user_positions (user_id, source_partition, max_offset, n, state_ready) VALUES ('state-u', 0, 1, 2, true)`,
    );
    for (const [grain, ms] of [60, 3600, 86400].flatMap((g) => [[g, old] as const, [g, recent] as const]))
      await db.query(
        "INSERT INTO user_buckets (user_id, grain, bucket, currency, n, total) VALUES ('state-u', $1, $2, 'USD', 1, 10)",
        [grain, Math.floor(ms / (grain * 1000))],
      );
    await db.query(
      `INSERT INTO user_values (user_id, field, value, last_ms) VALUES ('state-u', 'country', 'FR', $1), ('state-u', 'country', 'US', $2)`,
      [old, recent],
    );
    const result = await applyRetention(pool, {
      transactionsDays: 90,
      casesDays: 365,
      webhookDeliveriesDays: 30,
      outboxDays: 7,
      userStateDays: 30,
    });
    expect(result.deleted.user_buckets).toBe(3);
    expect(result.deleted.user_values).toBe(1);
    expect(await count("SELECT count(*) AS n FROM user_buckets WHERE user_id = 'state-u'")).toBe(3);
    const values = await db.query("SELECT value FROM user_values WHERE user_id = 'state-u'");
    expect(values.rows.map((r) => r.value)).toEqual(["US"]);
  });

  it("`sentinel retention` applies it and says what it removed", async () => {
    const r = await runSentinel(["retention"], ctx.env);
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toMatch(/^retention_dropped_partitions=.*$/m);
    expect(r.stdout).toMatch(/^retention_deleted_cases=\d+$/m);
    expect(r.stdout).toMatch(/^retention_deleted_webhook_deliveries=\d+$/m);
  });
});

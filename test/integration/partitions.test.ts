import { randomUUID } from "node:crypto";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, sqlClient, type TestContext } from "../support/context.ts";

/*
 * Issue 38 (found by bench:e2e): a week's partitions are created without locking readers and
 * writers out (migration 022). The retention job creates the weeks ahead while the scorer reads
 * `decisions` joined to `transactions`; with CREATE TABLE … PARTITION OF (an ACCESS EXCLUSIVE lock
 * on each parent) the two deadlocked, and the scorer's round stalled a second. Here a reader holds
 * its locks in an open transaction while another connection creates a future week: the creation
 * must not wait for it, and the new week must take rows through the parent, its keys enforced.
 */

let ctx: TestContext;
let reader: pg.Client;
let creator: pg.Client;

beforeAll(async () => {
  ctx = await createTestContext();
  reader = await sqlClient(ctx.config);
  creator = await sqlClient(ctx.config);
});
afterAll(async () => {
  await reader?.end();
  await creator?.end();
  await ctx?.cleanup();
});

const WEEK = 7 * 86_400_000;

describe("sentinel_ensure_partitions", () => {
  it("creates a week's partitions while a reader holds both tables, without waiting for it", async () => {
    await reader.query("BEGIN");
    // The scorer's read: decisions, then transactions (AccessShare on both parents, held).
    await reader.query(
      "SELECT count(*) FROM decisions d JOIN transactions t ON t.transaction_id = d.transaction_id AND t.received_at = d.received_at",
    );
    const future = new Date(Date.now() + 5 * WEEK).toISOString();
    await creator.query("SET lock_timeout = '2s'");
    const started = performance.now();
    const { rows } = await creator.query(
      "SELECT sentinel_ensure_partitions($1::timestamptz, $1::timestamptz) AS n",
      [future],
    );
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(rows[0].n).toBe(2);
    await reader.query("COMMIT");

    // The new week is a partition like the others: rows go through the parent, keys hold.
    const id = randomUUID();
    await creator.query(
      `INSERT INTO transactions (transaction_id, user_id, amount, currency, event_time, received_at, source_partition, source_offset)
       VALUES ($1, 'u-part', 1, 'USD', $2, $2, 0, 0)`,
      [id, future],
    );
    await expect(
      creator.query(
        `INSERT INTO transactions (transaction_id, user_id, amount, currency, event_time, received_at, source_partition, source_offset)
         VALUES ($1, 'u-part', 1, 'USD', $2, $2, 0, 1)`,
        [id, future],
      ),
    ).rejects.toThrow(/duplicate key/);
    await creator.query(
      `INSERT INTO decisions (transaction_id, rules_version, live, decision, score, reasons, decided_at, received_at)
       VALUES ($1, 'v', true, 'approve', 0, '{}', $2, $2)`,
      [id, future],
    );
    const { rows: indexes } = await creator.query(
      `SELECT indexname FROM pg_indexes WHERE tablename IN (SELECT partition FROM storage_partitions WHERE lower_bound <= $1 AND upper_bound > $1) ORDER BY 1`,
      [future],
    );
    // Both keys, the one-live index and the parents' two indexes, on the new week's tables.
    expect(indexes.length).toBe(5);
    // Asked again, nothing more is created.
    const again = await creator.query(
      "SELECT sentinel_ensure_partitions($1::timestamptz, $1::timestamptz) AS n",
      [future],
    );
    expect(again.rows[0].n).toBe(0);
  });
});

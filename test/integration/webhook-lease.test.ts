import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabasePool, type DatabasePool } from "../../src/store/pool.ts";
import { type Claimed, createDeliveryStore, type Outcome } from "../../src/webhooks/delivery-store.ts";
import { createTestContext, sqlClient, type TestContext } from "../support/context.ts";

/*
 * A redelivery (or replay) that lands while the attempt it interrupts is still being recorded must
 * not be undone by that attempt's result: the result applies only while the row holds the lease its
 * claim set. (The webhooks integration test caught this once in CI: a redelivery issued right after
 * the first delivery arrived was overwritten as "delivered" and never sent.)
 */

let ctx: TestContext;
let pool: DatabasePool;
beforeAll(async () => {
  ctx = await createTestContext();
  pool = await createDatabasePool(ctx.config.database.url, { maxPoolSize: 2 });
});
afterAll(async () => {
  await pool?.end();
  await ctx?.cleanup();
});

/** A 200 for the attempt of `c`, recorded under its claim. */
const succeeded = (c: Claimed): Outcome => ({
  deliveryId: c.deliveryId,
  attempt: c.attempt,
  lease: c.lease,
  attemptedAtMs: Date.now(),
  ok: true,
  status: 200,
  latencyMs: 3,
  error: undefined,
  nextAttemptAtMs: undefined,
});

describe("webhook delivery leases", () => {
  it("a redelivery during an attempt's recording survives the attempt's success", async () => {
    const db = await sqlClient(ctx.config);
    try {
      await db.query(
        "INSERT INTO webhook_endpoints (endpoint_id, url, events) VALUES ('ep_lease', 'https://example.invalid/h', '{decision.approved}')",
      );
      const store = createDeliveryStore({ pool });
      await db.query(
        `INSERT INTO webhook_deliveries (endpoint_id, message_id, event_type, body, event_at, next_attempt_at)
         VALUES ('ep_lease', 'msg_1', 'decision.approved', '{}', now(), now())`,
      );
      const [claimed] = await store.claim(new Map([["ep_lease", 1]]), 60_000);
      expect(claimed).toBeDefined();
      // The operator redelivers while the attempt is in flight…
      const actor = { name: "test", role: "admin" };
      expect(await store.redeliver(claimed!.deliveryId, actor)).not.toBeNull();
      // …and then the attempt's success is recorded.
      await store.record([succeeded(claimed!)]);
      const { rows } = await db.query(
        "SELECT status, next_attempt_at <= now() AS due FROM webhook_deliveries",
      );
      expect(rows).toEqual([{ status: "pending", due: true }]);
      const attempts = await db.query("SELECT count(*)::int AS n FROM webhook_attempts");
      expect(attempts.rows[0].n).toBe(1); // the attempt is in the log all the same
      // The redelivery is claimed and, recorded under its own lease, delivered.
      const [again] = await store.claim(new Map([["ep_lease", 1]]), 60_000);
      expect(again?.attempt).toBe(2);
      await store.record([succeeded(again!)]);
      const after = await db.query("SELECT status FROM webhook_deliveries");
      expect(after.rows).toEqual([{ status: "delivered" }]);
    } finally {
      await db.end();
    }
  });
});

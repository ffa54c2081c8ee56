import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createDatabasePool, type DatabasePool, withSessionOptions } from "../../src/store/pool.ts";
import { createTransactionStore } from "../../src/store/transaction-store.ts";
import { createTestContext, type TestContext } from "../support/context.ts";
import { storedItem } from "../support/stored-items.ts";

/* The scorer's round statements are named, and planned at every execution (src/store/pool.ts):
   PostgreSQL's own count of each named statement's plans, on the real server, says which. */

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx?.cleanup();
});

function round(n: number, offset: number) {
  return Array.from({ length: n }, (_, k) =>
    storedItem({ userId: `prep-${k % 5}`, receivedMs: Date.now() - 60_000 + offset + k, offset: offset + k }),
  );
}

const Plans = z.object({ name: z.string(), generic_plans: z.number(), custom_plans: z.number() });

/** Ten rounds stored and looked up on one connection; that connection's named statements' plan counts. */
async function plansOfTenRounds(pool: DatabasePool) {
  return pool.connect(async (connection) => {
    const store = createTransactionStore({ pool: connection as unknown as DatabasePool });
    for (let i = 0; i < 10; i++) {
      const items = round(5, i * 5);
      await store.storeDecided(items);
      await store.findLiveDecisions(items.map((x) => x.source.tx.transaction_id));
      await store.findHistory(["prep-0", "prep-1"], Date.now() - 3_600_000, { withoutState: true });
    }
    const rows = await connection.any(
      sql.type(
        Plans,
      )`SELECT name, generic_plans::float8 AS generic_plans, custom_plans::float8 AS custom_plans
                      FROM pg_prepared_statements WHERE name LIKE 'sentinel_%' ORDER BY name`,
    );
    return Object.fromEntries(rows.map((r) => [r.name, r]));
  });
}

describe("the round's named statements", () => {
  it("are prepared once and planned at every execution (never a generic plan)", async () => {
    const pool = await createDatabasePool(ctx.config.database.url, { maxPoolSize: 1 });
    try {
      const plans = await plansOfTenRounds(pool);
      expect(Object.keys(plans)).toEqual([
        "sentinel_find_history_10",
        "sentinel_find_live_decisions",
        "sentinel_store_decided",
      ]);
      for (const p of Object.values(plans)) expect(p).toMatchObject({ generic_plans: 0, custom_plans: 10 });
    } finally {
      await pool.end();
    }
  });

  it("a round whose users have no state reads their positions alone, as the five-part statement would", async () => {
    const pool = await createDatabasePool(ctx.config.database.url, { maxPoolSize: 1 });
    try {
      const store = createTransactionStore({ pool });
      await store.storeDecided(
        Array.from({ length: 3 }, (_, k) =>
          storedItem({ userId: "prep-positions", receivedMs: Date.now() - 30_000 + k, offset: 1_000 + k }),
        ),
      );
      const users = ["prep-positions", "nobody"];
      const empty = { buckets: [], edges: [], recentValues: [], values: [] };
      const positions = await store.loadUserState({ users, ...empty });
      // The same users with one (empty) part asked: the five-part statement.
      const full = await store.loadUserState({
        users,
        ...empty,
        values: [{ userId: "nobody", field: "country", value: "US" }],
      });
      expect(positions.get("prep-positions")?.position).toMatchObject({
        count: 3,
        maxOffset: 1_002,
        ready: false,
      });
      expect(positions.get("nobody")?.position).toBeUndefined();
      expect(positions).toEqual(full);
      const names = await pool.anyFirst(
        sql.type(z.object({ name: z.string() }))`SELECT name FROM pg_prepared_statements ORDER BY name`,
      );
      expect(names).toEqual([
        "sentinel_load_positions",
        "sentinel_load_user_state",
        "sentinel_store_decided",
      ]);
    } finally {
      await pool.end();
    }
  });

  it("an operator's plan_cache_mode wins: PostgreSQL's own (auto) goes generic after five executions", async () => {
    const url = new URL(ctx.config.database.url);
    url.searchParams.set("options", "-c plan_cache_mode=auto");
    const pool = await createDatabasePool(url.toString(), { maxPoolSize: 1 });
    try {
      const plans = await plansOfTenRounds(pool);
      expect(plans.sentinel_store_decided?.generic_plans).toBeGreaterThan(0);
    } finally {
      await pool.end();
    }
  });

  it("the session option joins what the URL or PGOPTIONS already ask for", () => {
    const custom = "plan_cache_mode%3Dforce_custom_plan";
    expect(withSessionOptions("postgres://u@h/db", {})).toBe(`postgres://u@h/db?options=-c+${custom}`);
    expect(withSessionOptions("postgres://u@h/db?options=-c%20work_mem%3D8MB", {})).toBe(
      `postgres://u@h/db?options=-c+work_mem%3D8MB+-c+${custom}`,
    );
    expect(withSessionOptions("postgres://u@h/db", { PGOPTIONS: "-c statement_timeout=5s" })).toBe(
      `postgres://u@h/db?options=-c+statement_timeout%3D5s+-c+${custom}`,
    );
    const operators = "postgres://u@h/db?options=-c%20plan_cache_mode%3Dauto";
    expect(withSessionOptions(operators, {})).toBe(operators);
  });
});

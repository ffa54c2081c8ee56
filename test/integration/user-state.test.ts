import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Decision } from "../../src/domain/decision.ts";
import type { SourcedTransaction, Transaction } from "../../src/domain/transaction.ts";
import { prng } from "../../src/random.ts";
import { defaultRuleSet } from "../../src/rules/default-rule-set.ts";
import { DISTINCT_CAP, type RuleHistory, rowHistory } from "../../src/rules/history.ts";
import { AGG_FIELDS, type AggregateTerm } from "../../src/rules/rule-language.ts";
import { scoringRules } from "../../src/rules/scoring-rules.ts";
import { type StoredState, UserState } from "../../src/rules/user-state.ts";
import { planStateRequest } from "../../src/rules/user-state-request.ts";
import { decide, isEarlier, ruleTransaction } from "../../src/scoring/decide.ts";
import { createDatabasePool, type DatabasePool } from "../../src/store/pool.ts";
import { createTransactionStore, type TransactionStore } from "../../src/store/transaction-store.ts";
import { createTestContext, type TestContext } from "../support/context.ts";
import { approved } from "../support/decisions.ts";

/*
 * Issue 21: the per-user state answers every aggregate exactly as the stored rows do (windows on
 * and around minute, hour and day edges, several currencies, more distinct values than
 * DISTINCT_CAP, clocks out of order), and the rows a round reads for a user do not grow with its
 * history.
 */

let ctx: TestContext;
let pool: DatabasePool;
let store: TransactionStore;
const NOW = Date.UTC(2026, 11, 1, 10, 30, 15, 250);
const DAY = 86_400_000;

const decisionOf = (tx: Transaction): Decision => approved(tx, NOW);

/** Stores `list` as the consumer would (the state written in the same statement), 2,000 a statement. */
async function storeAll(list: readonly SourcedTransaction[]): Promise<void> {
  for (let i = 0; i < list.length; i += 2_000) {
    const part = list.slice(i, i + 2_000);
    const inserted = await store.storeDecided(
      part.map((source) => ({ source, decision: decisionOf(source.tx) })),
    );
    expect(inserted.size).toBe(part.length);
  }
}

function sourced(
  tx: Omit<Transaction, "transaction_id">,
  receivedMs: number,
  offset: number,
): SourcedTransaction {
  return {
    tx: { ...tx, transaction_id: randomUUID() } as Transaction,
    eventTimeMs: receivedMs,
    receivedMs,
    partition: 0,
    offset,
  };
}

beforeAll(async () => {
  ctx = await createTestContext();
  pool = await createDatabasePool(ctx.config.database.url, { maxPoolSize: 2 });
  store = createTransactionStore({ pool });
});

afterAll(async () => {
  await pool?.end();
  await ctx?.cleanup();
});

const WINDOWS_S = [
  1,
  59,
  60,
  61,
  600,
  3_599,
  3_600,
  3_601,
  86_399,
  86_400,
  86_401,
  7 * 86_400,
  30 * 86_400,
  40 * 86_400,
];
const TERMS: AggregateTerm[] = WINDOWS_S.flatMap((s) => [
  { agg: "count" as const, windowMs: s * 1000 },
  ...AGG_FIELDS.map((field) => ({ agg: "count_distinct" as const, windowMs: s * 1000, field })),
  ...AGG_FIELDS.map((field) => ({ agg: "first_seen" as const, windowMs: s * 1000, field })),
]);

/** Every answer a history gives for `tx`, as plain data (totals as strings). */
function answers(h: RuleHistory, tx: SourcedTransaction) {
  return WINDOWS_S.map((s) => {
    const from = tx.receivedMs - s * 1000;
    const t = h.totals(from);
    return {
      s,
      n: t.n,
      totals: [...t.byCurrency].sort().map(([c, v]) => `${c}:${v.n}:${v.units}`),
      distinct: AGG_FIELDS.map((f) => h.distinctCount(f, from)),
      seen: AGG_FIELDS.map((f) => (tx.tx[f] === undefined ? null : h.seen(f, tx.tx[f]!, from))),
    };
  });
}

describe("per-user state (issue 21)", () => {
  it("answers every aggregate exactly as the rows, at window edges, across currencies and past the distinct cap", async () => {
    const random = prng(21);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    const users = ["edge-a", "edge-b", "edge-c"];
    const history: SourcedTransaction[] = [];
    let offset = 0;
    for (let i = 0; i < 6_000; i++) {
      const user = pick(users);
      // Mostly the last two days (many per minute), some over 45 days, some exactly on edges.
      const r = random();
      const ago =
        r < 0.1
          ? pick(WINDOWS_S) * 1000 + pick([-1, 0, 1])
          : r < 0.7
            ? Math.floor(random() * 2 * DAY)
            : Math.floor(random() * 45 * DAY);
      const currency = pick(["USD", "USD", "EUR", "JPY"]);
      const amount =
        currency === "JPY" ? String(1 + Math.floor(random() * 5000)) : (random() * 900).toFixed(2);
      history.push(
        sourced(
          {
            user_id: user,
            amount,
            currency,
            country: pick(["US", "DE", "FR", "GB"]),
            // edge-c has more devices than the cap: count_distinct saturates at DISTINCT_CAP.
            device_id: user === "edge-c" ? `d${Math.floor(random() * 3_000)}` : pick(["d1", "d2", "d3"]),
            ...(random() < 0.8 ? { merchant_id: `m${Math.floor(random() * 40)}` } : {}),
            channel: pick(["ecommerce", "card_present"]),
          } as Omit<Transaction, "transaction_id">,
          NOW - ago,
          offset++,
        ),
      );
    }
    // The first half stored, then the state built from the rows (buildUserState), then the second
    // half stored with the state written beside the rows (store-decided.ts): both ways counted.
    await storeAll(history.slice(0, 3_000));
    expect((await store.buildUserState(users)).sort()).toEqual(users);
    expect(await store.buildUserState(users)).toEqual([]); // once
    await storeAll(history.slice(3_000));
    // A round of new transactions for them, in topic order.
    const round = Array.from({ length: 60 }, (_, i) =>
      sourced(
        {
          user_id: users[i % 3]!,
          amount: "10.00",
          currency: pick(["USD", "EUR"]),
          country: pick(["US", "DE", "JP"]),
          device_id: i % 3 === 2 ? `d${Math.floor(random() * 3_000)}` : pick(["d1", "d4"]),
          merchant_id: `m${Math.floor(random() * 50)}`,
          channel: "ecommerce",
        } as Omit<Transaction, "transaction_id">,
        NOW + i * 700,
        offset + i,
      ),
    );
    const byUser = new Map(users.map((u) => [u, round.filter((v) => v.tx.user_id === u)]));
    const request = planStateRequest(byUser, TERMS);
    const loaded = await store.loadUserState(request);
    const rows = await store.findHistory(users, NOW - 50 * DAY);
    expect(rows).toHaveLength(6_000);
    expect(await store.findHistory(users, NOW - 50 * DAY, { withoutState: true })).toEqual([]);
    for (const u of users) expect(loaded.get(u)!.position).toMatchObject({ ready: true, partition: 0 });

    let saturated = 0;
    for (const user of users) {
      const state = new UserState(loaded.get(user)!);
      const mine = byUser.get(user)!;
      for (const [k, tx] of mine.entries()) {
        const earlier = [
          ...rows.filter((h) => h.userId === user && isEarlier(h, tx)),
          ...mine.slice(0, k).map(ruleTransaction),
        ];
        const want = answers(rowHistory(earlier), tx);
        expect(answers(state, tx)).toEqual(want);
        saturated += want.flatMap((a) => a.distinct).filter((d) => d === DISTINCT_CAP).length;
        state.apply(ruleTransaction(tx));
      }
    }
    expect(saturated).toBeGreaterThan(0);

    // And whole decisions: the default rule set from the state and from the rows, alike.
    const rules = scoringRules(defaultRuleSet(ctx.config.rules), {
      "EUR:USD": "1.0842",
      "JPY:USD": "0.0067",
    });
    const profiles = new Map(users.map((u) => [u, null]));
    const states = new Map<string, StoredState>(users.map((u) => [u, loaded.get(u)!]));
    const decidedAt = new Date(NOW).toISOString();
    const fromState = decide({ transactions: round, profiles, history: [], states, rules, decidedAt });
    const fromRows = decide({ transactions: round, profiles, history: rows, rules, decidedAt });
    expect(fromState).toEqual(fromRows);
  });

  it("builds a user's state while its transactions are being stored: none counted twice, none missed", async () => {
    const user = "crossing";
    const list = Array.from({ length: 1_200 }, (_, i) =>
      sourced(
        { user_id: user, amount: "1.00", currency: "USD", country: "US" } as Omit<
          Transaction,
          "transaction_id"
        >,
        NOW - DAY + i * 1000,
        i,
      ),
    );
    await storeAll(list.slice(0, 400));
    // Ten statements of 80 racing one build.
    const parts = Array.from({ length: 10 }, (_, k) => list.slice(400 + k * 80, 480 + k * 80));
    await Promise.all([
      ...parts.map((part) =>
        store.storeDecided(part.map((source) => ({ source, decision: decisionOf(source.tx) }))),
      ),
      store.buildUserState([user]),
    ]);
    const loaded = await store.loadUserState(
      planStateRequest(new Map([[user, [{ tx: {}, receivedMs: NOW, partition: 0, offset: 2_000 }]]]), [
        { agg: "count", windowMs: 2 * DAY },
      ]),
    );
    expect(loaded.get(user)!.position).toMatchObject({ ready: true, count: 1_200 });
    expect(new UserState(loaded.get(user)!).totals(NOW - 2 * DAY).n).toBe(1_200);
  });

  it("reads a bounded number of rows per user, however long its history (rows counted, not time)", async () => {
    const rules = scoringRules(defaultRuleSet(ctx.config.rules), {});
    const read = async (size: number) => {
      const user = `hot-${size}`;
      // `size` earlier transactions spread evenly over the last 25 days.
      const spacing = Math.floor((25 * DAY) / size);
      const all = Array.from({ length: size }, (_, i) =>
        sourced(
          { user_id: user, amount: "5.00", currency: "USD", country: "US", device_id: "d1" } as Omit<
            Transaction,
            "transaction_id"
          >,
          NOW - (size - i) * spacing,
          i,
        ),
      );
      await storeAll(all.slice(0, size / 2));
      await store.buildUserState([user]);
      await storeAll(all.slice(size / 2));
      const round = Array.from({ length: 20 }, (_, i) => ({
        tx: { country: "US", device_id: "d1" },
        receivedMs: NOW + i * 50,
        partition: 0,
        offset: size + i,
      }));
      const loaded = (await store.loadUserState(planStateRequest(new Map([[user, round]]), rules.terms))).get(
        user,
      )!;
      return {
        state: loaded.buckets.length + loaded.edges.length + loaded.values.length,
        rows: (await store.findHistory([user], NOW - 30 * DAY)).length,
      };
    };
    const small = await read(2_000);
    const large = await read(20_000);
    // The rows grow with the history (10×); the state read by a round does not (by the windows' shape only).
    expect(large.rows).toBe(10 * small.rows);
    expect(large.state).toBeLessThan(600);
    expect(large.state).toBeLessThanOrEqual(small.state * 1.5 + 20);
  });
});

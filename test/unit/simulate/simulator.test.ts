import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createTransactionSchema } from "../../../src/domain/transaction.ts";
import { type SimTransaction, simulate } from "../../../src/simulate/simulator.ts";
import { TYPOLOGIES } from "../../../src/simulate/typologies.ts";

const digest = (r: object) => createHash("sha256").update(JSON.stringify(r)).digest("hex");
const START = Date.parse("2026-11-01T00:00:00Z");
const options = { seed: 7, users: 1_000, days: 30, startMs: START };
const run = simulate(options);
const byLabel = (label: string) => run.truth.filter((t) => t.label === label).map((t) => t.transaction_id);
const tx = new Map(run.transactions.map((t) => [t.transaction_id, t]));
const groupByUser = (ids: string[]) =>
  Map.groupBy(
    ids.map((id) => tx.get(id)!),
    (t: SimTransaction) => t.user_id,
  );

describe("the fraud simulator", () => {
  it("is deterministic: the same seed gives the same transactions and truth, another seed others", () => {
    const again = simulate(options);
    expect(digest(again)).toBe(digest(run));
    expect(simulate({ ...options, seed: 8 }).transactions[0]).not.toEqual(run.transactions[0]);
  }, 60_000);

  it("writes transactions the pipeline accepts, in time order, inside the simulated days, with one truth each", () => {
    const schema = createTransactionSchema(() => START + 31 * 86_400_000, 40 * 86_400_000);
    for (const t of run.transactions.slice(0, 5_000))
      expect(schema.safeParse(t).success, JSON.stringify(t)).toBe(true);
    const times = run.transactions.map((t) => Date.parse(t.timestamp));
    expect(times.every((t, i) => i === 0 || t >= times[i - 1]!)).toBe(true);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(START);
    expect(Math.max(...times)).toBeLessThan(START + 30 * 86_400_000);
    expect(run.truth.map((t) => t.transaction_id)).toEqual(run.transactions.map((t) => t.transaction_id));
    expect(new Set(tx.keys()).size).toBe(run.transactions.length);
    // Mostly legitimate, every typology present.
    expect(byLabel("legit").length / run.truth.length).toBeGreaterThan(0.9);
    for (const typology of TYPOLOGIES) expect(byLabel(typology).length, typology).toBeGreaterThan(0);
  });

  it("makes each typology look like itself", () => {
    // Card testing: tiny amounts at many merchants within minutes.
    for (const [, list] of groupByUser(byLabel("card_testing"))) {
      expect(list.every((t) => Number(t.amount) <= 2)).toBe(true);
      expect(new Set(list.map((t) => t.merchant_id)).size).toBe(list.length);
    }
    // Velocity burst: at least 8 purchases within 4 minutes.
    for (const [, list] of groupByUser(byLabel("velocity_burst"))) {
      const ts = list.map((t) => Date.parse(t.timestamp)).sort((a, b) => a - b);
      expect(ts.length).toBeGreaterThanOrEqual(8);
      expect(ts.at(-1)! - ts[0]!).toBeLessThan(4 * 60_000);
    }
    // Impossible travel: two countries within 20 minutes.
    for (const [, list] of groupByUser(byLabel("impossible_travel"))) {
      const countries = new Set(list.map((t) => t.country));
      expect(countries.size).toBeGreaterThanOrEqual(2);
    }
    // Collusion: rings paying one merchant.
    const ringMerchants = new Set(byLabel("collusion").map((id) => tx.get(id)!.merchant_id));
    expect(ringMerchants.size).toBeLessThanOrEqual(byLabel("collusion").length / 5);
    // Slow drain: one new merchant, day after day (cut at the end of the simulated month).
    for (const [, list] of groupByUser(byLabel("slow_drain"))) {
      expect(new Set(list.map((t) => t.merchant_id)).size).toBe(1);
      if (list.length < 2) continue;
      expect(new Set(list.map((t) => t.timestamp.slice(0, 10))).size).toBeGreaterThan(1);
    }
  });
});

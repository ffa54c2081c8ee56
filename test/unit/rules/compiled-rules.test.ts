import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.ts";
import {
  evaluate,
  type HistoryEntry,
  rulesVersion,
  type ScoredTransaction,
} from "../../support/compiled-rules.ts";
import { testProfile } from "../../support/profiles.ts";

const rules = loadConfig({ FX_RATES: "EUR:USD=1.10" }).rules;
const T = Date.parse("2026-06-01T12:00:00Z");

const profile = testProfile();

const tx = (over: Partial<ScoredTransaction> = {}): ScoredTransaction => ({
  transactionId: "t0",
  userId: "u1",
  amount: "10.00",
  currency: "USD",
  country: "US",
  receivedMs: T,
  ...over,
});
const past = (i: number, agoMs: number, amount = "10.00", currency = "USD"): HistoryEntry => ({
  transactionId: `h${i}`,
  amount,
  currency,
  receivedMs: T - agoMs,
});

describe("rules", () => {
  it("approves an ordinary transaction with score 0", () => {
    expect(evaluate(rules, tx(), profile, [])).toEqual({ decision: "approve", score: 0, reasons: [] });
  });

  it("declines a blocked user", () => {
    const v = evaluate(rules, tx(), { ...profile, status: "blocked" }, []);
    expect(v.decision).toBe("decline");
    expect(v.reasons).toContain("user_blocked");
  });

  it("declines above the per-transaction limit, not at it", () => {
    expect(evaluate(rules, tx({ amount: "500.00" }), profile, []).reasons).not.toContain(
      "over_transaction_limit",
    );
    const v = evaluate(rules, tx({ amount: "500.01" }), profile, []);
    expect(v.decision).toBe("decline");
    expect(v.reasons).toContain("over_transaction_limit");
  });

  it("declines when the rolling 24 h spend plus this amount exceeds the daily limit", () => {
    const history = [past(1, 3_600_000, "400.00"), past(2, 7_200_000, "400.00")];
    expect(evaluate(rules, tx({ amount: "200.00" }), profile, history).reasons).toEqual([]);
    const v = evaluate(rules, tx({ amount: "200.01" }), profile, history);
    expect(v.decision).toBe("decline");
    expect(v.reasons).toEqual(["over_daily_limit"]);
  });

  it("ignores spend older than 24 h", () => {
    const history = [past(1, 24 * 3_600_000, "900.00")];
    expect(evaluate(rules, tx({ amount: "100.00" }), profile, history).reasons).toEqual([]);
  });

  it("counts history that came earlier in the topic even when its clock reads later (no escape by clock)", () => {
    // Issue 11: whatever the earlier transactions' times say, they are in the window.
    const history = [past(1, -60_000, "600.00")];
    expect(evaluate(rules, tx({ amount: "450.00" }), profile, history).reasons).toEqual(["over_daily_limit"]);
    const burst = [1, 2, 3, 4, 5].map((i) => past(i, -i * 600_000));
    expect(evaluate(rules, tx(), profile, burst).reasons).toEqual(["velocity"]);
  });

  it("reviews more than N transactions in 60 s, counting this one", () => {
    const four = [1, 2, 3, 4].map((i) => past(i, i * 1000));
    expect(evaluate(rules, tx(), profile, four).reasons).toEqual([]); // 5 in the window: not more than 5
    const v = evaluate(rules, tx(), profile, [...four, past(5, 5000)]);
    expect(v.decision).toBe("review");
    expect(v.reasons).toEqual(["velocity"]);
    expect(evaluate(rules, tx(), profile, [...four, past(5, 60_000)]).reasons).toEqual([]); // at the edge: outside
  });

  it("adds risk for a foreign country without forcing review", () => {
    const v = evaluate(rules, tx({ country: "FR" }), profile, []);
    expect(v).toEqual({ decision: "approve", score: 25, reasons: ["foreign_country"] });
  });

  it("reviews an unknown user", () => {
    const v = evaluate(rules, tx(), null, []);
    expect(v.decision).toBe("review");
    expect(v.reasons).toEqual(["unknown_user"]);
  });

  it("reviews a large amount from a high-risk user", () => {
    const high = {
      ...profile,
      risk_tier: "high" as const,
      per_transaction_limit: "5000",
      daily_limit: "5000",
    };
    expect(evaluate(rules, tx({ amount: "999.99" }), high, []).reasons).toEqual([]);
    const v = evaluate(rules, tx({ amount: "1000.00" }), high, []);
    expect(v.decision).toBe("review");
    expect(v.reasons).toEqual(["high_risk_large_amount"]);
  });

  it("converts a foreign currency by the configured table, exactly", () => {
    // 455 EUR × 1.10 = 500.50 USD > 500.00
    expect(evaluate(rules, tx({ amount: "455.00", currency: "EUR" }), profile, []).reasons).toEqual([
      "over_transaction_limit",
    ]);
    expect(evaluate(rules, tx({ amount: "454.54", currency: "EUR" }), profile, []).reasons).toEqual([]);
  });

  it("flags a currency it cannot convert instead of comparing it", () => {
    const v = evaluate(rules, tx({ amount: "999999", currency: "JPY" }), profile, []);
    expect(v.decision).toBe("review");
    expect(v.reasons).toEqual(["currency_unconvertible"]);
  });

  it("lets scores add up past the decline threshold", () => {
    const high = {
      ...profile,
      risk_tier: "high" as const,
      per_transaction_limit: "5000",
      daily_limit: "50000",
    };
    const history = [1, 2, 3, 4, 5].map((i) => past(i, i * 1000));
    const v = evaluate(rules, tx({ amount: "1000.00", country: "FR" }), high, history);
    expect(v.reasons).toEqual(["velocity", "high_risk_large_amount", "foreign_country"]);
    expect(v.score).toBe(100);
    expect(v.decision).toBe("decline");
  });

  it("versions the rules by their settings", () => {
    expect(rulesVersion(rules)).toMatch(/^v1-[0-9a-f]{10}$/);
    expect(rulesVersion(rules)).toBe(rulesVersion({ ...rules }));
    expect(rulesVersion({ ...rules, velocityMax: 6 })).not.toBe(rulesVersion(rules));
  });
});

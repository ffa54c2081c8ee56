import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Profile } from "../../../src/domain/profile.ts";
import { evaluateRuleSet, type RuleHistoryEntry } from "../../../src/rules/evaluator.ts";
import { publishRuleSet } from "../../../src/rules/publish-rule-set.ts";
import {
  aggregateCost,
  type Expr,
  type RuleSet,
  validateRuleSet,
  widestWindowMs,
} from "../../../src/rules/rule-language.ts";
import { scoringRules } from "../../../src/rules/scoring-rules.ts";
import { testProfile } from "../../support/profiles.ts";

/* The rule language: total, deterministic, exact on money; its validation names JSON paths. */

const T = Date.parse("2026-06-01T12:00:00Z");
const profile = testProfile();
const ctx = {
  fxRates: { "EUR:USD": "1.10" },
  lists: new Map([["blocked_devices", new Map([["dev-bad", Number.POSITIVE_INFINITY]])]]),
};
const one = (when: Expr): RuleSet => ({
  format: 1,
  thresholds: { review: 50, decline: 80 },
  rules: [{ id: "r", description: "test", when, score: 60 }],
});
const fires = (
  when: Expr,
  tx: Record<string, string> = {},
  history: RuleHistoryEntry[] = [],
  p: Profile | null = profile,
) =>
  evaluateRuleSet(
    one(when),
    { transactionId: "t", amount: "10.00", currency: "USD", receivedMs: T, ...tx },
    p,
    history,
    ctx,
  ).reasons.length === 1;
const past = (agoS: number, extra: Partial<RuleHistoryEntry> = {}): RuleHistoryEntry => ({
  transactionId: `h${agoS}`,
  amount: "10.00",
  currency: "USD",
  receivedMs: T - agoS * 1000,
  ...extra,
});

describe("the rule language", () => {
  it("compares exact decimals: 0.1 + 0.2 == 0.3, and money in the profile's currency", () => {
    expect(fires({ op: "==", args: [{ op: "+", args: ["0.1", "0.2"] }, "0.3"] })).toBe(true);
    expect(fires({ op: ">", args: [{ op: "amount" }, { money: "9.99" }] })).toBe(true);
    // 100 EUR × 1.10 = 110.00 USD
    expect(
      fires({ op: "==", args: [{ op: "amount" }, { money: "110" }] }, { amount: "100", currency: "EUR" }),
    ).toBe(true);
    expect(fires({ op: "is_null", arg: { op: "amount" } }, { currency: "JPY", amount: "5" })).toBe(true);
  });

  it("treats null as no answer: comparisons with null are false, not(null) is false", () => {
    expect(fires({ op: ">", args: [{ field: "tx.country" }, "A"] })).toBe(false);
    expect(fires({ op: "!=", args: [{ field: "tx.country" }, "US"] })).toBe(false);
    expect(fires({ op: "not", arg: { op: ">", args: [{ op: "amount" }, 1] } }, {}, [], null)).toBe(true);
    expect(fires({ op: "is_null", arg: { field: "profile" } }, {}, [], null)).toBe(true);
  });

  it("aggregates over earlier transactions received in the window", () => {
    const h = [past(10, { country: "FR", device_id: "d1" }), past(100, { country: "DE" }), past(4000)];
    expect(fires({ op: "==", args: [{ agg: "count", window_seconds: 60 }, 1] }, {}, h)).toBe(true);
    expect(fires({ op: "==", args: [{ agg: "sum", window_seconds: 3600 }, { money: "20" }] }, {}, h)).toBe(
      true,
    );
    expect(fires({ op: "==", args: [{ agg: "avg", window_seconds: 86_400 }, { money: "10" }] }, {}, h)).toBe(
      true,
    );
    expect(
      fires(
        { op: "==", args: [{ agg: "count_distinct", field: "country", window_seconds: 3600 }, 3] },
        { country: "US" },
        h,
      ),
    ).toBe(true);
    expect(
      fires({ agg: "first_seen", field: "device_id", window_seconds: 3600 }, { device_id: "d2" }, h),
    ).toBe(true);
    expect(
      fires({ agg: "first_seen", field: "device_id", window_seconds: 3600 }, { device_id: "d1" }, h),
    ).toBe(false);
    expect(
      fires(
        { op: "in_list", arg: { field: "tx.device_id" }, list: "blocked_devices" },
        { device_id: "dev-bad" },
      ),
    ).toBe(true);
    expect(
      fires({ op: "in_list", arg: { field: "tx.device_id" }, list: "nope" }, { device_id: "dev-bad" }),
    ).toBe(false);
  });

  it("is total and deterministic on any valid expression (property)", () => {
    const leaf = fc.oneof(
      fc.integer({ min: -5, max: 5 }),
      fc.constantFrom("US", "0.5", "blocked", true, false, null),
      fc.constantFrom<Expr>(
        { op: "amount" },
        { money: "12.345" },
        { field: "tx.amount" },
        { field: "profile.daily_limit" },
        { field: "tx.country" },
        { agg: "sum", window_seconds: 3600 },
        { agg: "count_distinct", field: "country", window_seconds: 60 },
      ),
    );
    const expr: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
      e: fc.oneof(
        { depthSize: "small" },
        leaf,
        fc.record({
          op: fc.constantFrom("==", "!=", "<", ">=", "+", "-", "*"),
          args: fc.tuple(tie("e"), tie("e")),
        }) as fc.Arbitrary<Expr>,
        fc.record({
          op: fc.constantFrom("and", "or"),
          args: fc.array(tie("e"), { minLength: 1, maxLength: 3 }),
        }) as fc.Arbitrary<Expr>,
        fc.record({ op: fc.constantFrom("not", "is_null"), arg: tie("e") }) as fc.Arbitrary<Expr>,
      ),
    })).e;
    fc.assert(
      fc.property(expr, fc.option(fc.constant(profile), { nil: null }), (when, p) => {
        const rs = one(when);
        expect(validateRuleSet(rs).ok).toBe(true);
        const a = evaluateRuleSet(
          rs,
          { transactionId: "t", amount: "7.25", currency: "EUR", receivedMs: T },
          p,
          [past(5)],
          ctx,
        );
        const b = evaluateRuleSet(
          rs,
          { transactionId: "t", amount: "7.25", currency: "EUR", receivedMs: T },
          p,
          [past(5)],
          ctx,
        );
        expect(a).toEqual(b);
        expect(["approve", "review", "decline"]).toContain(a.decision);
      }),
      { numRuns: 2_000 },
    );
  });

  it("names the JSON path of every validation problem", () => {
    const r = validateRuleSet({
      format: 1,
      thresholds: { review: 90, decline: 80 },
      rules: [
        { id: "a", description: "x", when: { op: ">", args: [{ field: "tx.nope" }, 1] }, score: 10 },
        { id: "a", description: "y", when: { agg: "count", window_seconds: 0 }, score: 101 },
      ],
    });
    expect(r.ok).toBe(false);
    const paths = !r.ok ? r.issues.map((i) => i.path) : [];
    expect(paths).toEqual(expect.arrayContaining(["thresholds.review", "rules.1.id", "rules.1.score"]));
    expect(paths.some((p) => p.startsWith("rules.0.when"))).toBe(true);
    expect(paths.some((p) => p.startsWith("rules.1.when"))).toBe(true);
  });

  it("knows the widest window a set needs", () => {
    expect(
      widestWindowMs(
        one({
          op: "and",
          args: [
            { agg: "count", window_seconds: 60 },
            { agg: "sum", window_seconds: 7200 },
          ],
        }),
      ),
    ).toBe(7_200_000);
  });
});

describe("a block is a block (issue 20)", () => {
  const lenient: RuleSet = {
    format: 1,
    thresholds: { review: 50, decline: 80 },
    // A set that dropped the user_blocked rule: before issue 20 a blocked user was approved by it.
    rules: [
      {
        id: "large",
        description: "large amounts",
        when: { op: ">", args: [{ field: "tx.amount" }, 10_000] },
        score: 60,
      },
    ],
  };
  const tx = { transactionId: "t1", amount: "12.50", currency: "USD", receivedMs: T };

  it("declines a blocked user whatever the active set says, with user_blocked among the reasons", () => {
    const rules = scoringRules(lenient, {});
    expect(rules.evaluate(tx, { ...profile, status: "active" }, [])).toMatchObject({ decision: "approve" });
    expect(rules.evaluate(tx, { ...profile, status: "blocked" }, [])).toEqual({
      decision: "decline",
      score: 100,
      reasons: ["user_blocked"],
    });
  });

  it("refuses to publish a set naming a list that does not exist", async () => {
    const set: RuleSet = {
      ...lenient,
      rules: [
        {
          id: "dev",
          description: "d",
          when: { op: "in_list", arg: { field: "tx.device_id" }, list: "blocked_devicez" },
          score: 90,
        },
      ],
    };
    let published = false;
    const store = {
      listNames: async () => new Set(["blocked_devices"]),
      publish: async () => {
        published = true;
        return true;
      },
    };
    await expect(publishRuleSet(store, set, { name: "test", role: "admin" })).rejects.toMatchObject({
      code: "validation_failed",
      issues: [{ path: "rules.0.when", message: expect.stringMatching(/names the list blocked_devicez/) }],
    });
    expect(published).toBe(false);
  });

  it("refuses a set whose aggregates could read more than the cost budget per user and round (issue 21)", () => {
    const windows = (n: number): RuleSet => ({
      format: 1,
      thresholds: { review: 50, decline: 80 },
      rules: Array.from({ length: n }, (_, i) => ({
        id: `r${i}`,
        description: "test",
        when: { op: ">", args: [{ agg: "count" as const, window_seconds: 86_400 * (i + 1) }, 1] },
        score: 1,
      })),
    });
    // 40 windows of 1..40 days: 40 × (85 + days) = 4,220 rows; 100 of 1..100 days: 13,550.
    expect(aggregateCost(windows(40))).toBe(4_220);
    expect(validateRuleSet(windows(40)).ok).toBe(true);
    expect(validateRuleSet(windows(100))).toEqual({
      ok: false,
      issues: [
        {
          path: "rules",
          message: expect.stringMatching(/read 13550 rows per user and round, over the budget of 10000/),
        },
      ],
    });
  });

  it("sums each currency's total in the window once, then converts it (docs/rules.md#aggregates)", () => {
    // 3 × 0.05 EUR at 1.10: each converted is 0.055 → 0.06, ×3 = 0.18; the total 0.15 → 0.165 → 0.17.
    const h = [1, 2, 3].map((s) => past(s, { amount: "0.05", currency: "EUR" }));
    const sum = { agg: "sum" as const, window_seconds: 60 };
    expect(fires({ op: "==", args: [sum, { money: "0.17" }] }, {}, h)).toBe(true);
  });
});

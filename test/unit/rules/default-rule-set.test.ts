import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.ts";
import type { Profile } from "../../../src/domain/profile.ts";
import { defaultRuleSet } from "../../../src/rules/default-rule-set.ts";
import { evaluateRuleSet } from "../../../src/rules/evaluator.ts";
import { ruleSetVersion, validateRuleSet } from "../../../src/rules/rule-language.ts";
import { evaluate } from "../../support/compiled-rules.ts";

/*
 * The default rule set decides exactly as the compiled rules (test/support/compiled-rules.ts) did, on generated
 * transactions, profiles, histories and settings: same outcome, score and reasons in the same order.
 */

const T = Date.parse("2026-06-01T12:00:00Z");
const CURRENCIES = ["USD", "EUR", "JPY", "GBP"];
const amountOf = (cents: number, currency: string) =>
  currency === "JPY"
    ? String(Math.max(1, Math.round(cents / 100)))
    : `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;

const settingsArb = fc.record({
  RULES_VELOCITY_MAX: fc.integer({ min: 1, max: 8 }).map(String),
  RULES_VELOCITY_WINDOW_SECONDS: fc.integer({ min: 10, max: 600 }).map(String),
  RULES_SPEND_WINDOW_HOURS: fc.integer({ min: 1, max: 48 }).map(String),
  RULES_HIGH_RISK_AMOUNT: fc.constantFrom("100", "250.50", "1000"),
  RULES_REVIEW_THRESHOLD: fc.integer({ min: 1, max: 60 }).map(String),
  RULES_DECLINE_THRESHOLD: fc.integer({ min: 60, max: 100 }).map(String),
  FX_RATES: fc.constantFrom("", "EUR:USD=1.10", "EUR:USD=1.08,GBP:USD=1.27,USD:EUR=0.91"),
});

const profileArb = fc.option(
  fc.record({
    user_id: fc.constant("u1"),
    status: fc.constantFrom("active", "blocked"),
    risk_tier: fc.constantFrom("low", "medium", "high"),
    home_country: fc.constantFrom("US", "FR"),
    currency: fc.constantFrom("USD", "EUR", "JPY"),
    per_transaction_limit: fc.constantFrom("500.00", "100", "2500.005"),
    daily_limit: fc.constantFrom("1000.00", "300", "5000.50"),
    version: fc.constant(1),
    updated_at: fc.constant("2026-01-01T00:00:00Z"),
  }) as fc.Arbitrary<Profile>,
  { nil: null },
);

const txArb = fc.record({
  cents: fc.integer({ min: 1, max: 400_000 }),
  currency: fc.constantFrom(...CURRENCIES),
  country: fc.option(fc.constantFrom("US", "FR", "DE"), { nil: undefined }),
});
const historyArb = fc.array(
  fc.record({
    cents: fc.integer({ min: 1, max: 200_000 }),
    currency: fc.constantFrom(...CURRENCIES),
    agoMs: fc.integer({ min: -60_000, max: 50 * 3_600_000 }),
  }),
  { maxLength: 12 },
);

describe("the default rule set", () => {
  it("is a valid rule set with a content-addressed version", () => {
    const rs = defaultRuleSet(loadConfig({}).rules);
    expect(validateRuleSet(rs)).toEqual({ ok: true, ruleSet: rs });
    expect(ruleSetVersion(rs)).toMatch(/^rs-[0-9a-f]{12}$/);
    expect(ruleSetVersion(defaultRuleSet(loadConfig({ RULES_VELOCITY_MAX: "6" }).rules))).not.toBe(
      ruleSetVersion(rs),
    );
  });

  it("decides exactly as the compiled rules on generated transactions, profiles and histories", () => {
    fc.assert(
      fc.property(settingsArb, profileArb, txArb, historyArb, (env, profile, t, h) => {
        const config = loadConfig(env);
        const tx = {
          transactionId: "t",
          userId: "u1",
          amount: amountOf(t.cents, t.currency),
          currency: t.currency,
          country: t.country,
          receivedMs: T,
        };
        const history = h.map((x, i) => ({
          transactionId: `h${i}`,
          amount: amountOf(x.cents, x.currency),
          currency: x.currency,
          receivedMs: T - x.agoMs,
        }));
        const compiled = evaluate(config.rules, tx, profile, history);
        const interpreted = evaluateRuleSet(
          defaultRuleSet(config.rules),
          { ...tx, ...(t.country ? { country: t.country } : {}) },
          profile,
          history,
          { fxRates: config.rules.fxRates, lists: new Map() },
        );
        expect(interpreted).toEqual(compiled);
      }),
      { numRuns: 3_000 },
    );
  });
});

describe("the mule_recipient rule (issue 36: reads the entity memory)", () => {
  const set = defaultRuleSet(loadConfig({}).rules);
  const transfer = (entities?: number[], merchant = "r-new") => ({
    transactionId: "t",
    userId: "u1",
    amount: "300.00",
    currency: "USD",
    receivedMs: T,
    merchant_id: merchant,
    merchant_category: "4829",
    ...(entities ? { entities } : {}),
  });
  const fired = (tx: ReturnType<typeof transfer>, history: Parameters<typeof evaluateRuleSet>[3] = []) =>
    evaluateRuleSet(set, tx, null, history, { fxRates: {}, lists: new Map() }).reasons.some((r) =>
      r.startsWith("mule_recipient"),
    );
  it("fires on a new recipient 3 or more other users paid in 48 h, and only then", () => {
    expect(fired(transfer([3, 0]))).toBe(true);
    expect(fired(transfer([2, 0]))).toBe(false);
    // No entity memory (a console rule test, Redis away): the field is null, the rule does not fire.
    expect(fired(transfer())).toBe(false);
    // A recipient this user paid last week is not new.
    const paid = {
      transactionId: "h",
      amount: "300.00",
      currency: "USD",
      receivedMs: T - 7 * 86_400_000,
      merchant_id: "r-new",
    };
    expect(fired(transfer([5, 0]), [paid])).toBe(false);
    expect(fired({ ...transfer([5, 0]), merchant_category: "5411" })).toBe(false);
  });
});

import type { Config } from "../config.ts";
import { MODEL_DECLINE_PER_1000, MODEL_FLAG_PER_1000 } from "../model/evaluate.ts";
import type { Expr, RuleSet } from "./rule-language.ts";

/*
 * The default rule set: the eight rules SentinelStream shipped as code, written in the rule
 * language and deciding exactly as that code did (proven by test/unit/rules/default-rule-set.test.ts against test/support/compiled-rules.ts and by the
 * oracle-checked integration tests), plus three behavioural rules the code could not express, and
 * two that read the learned model's score (issue 24): inert while no model is active (model.score
 * is null, and a comparison with null is false). The RULES_* variables are its parameters.
 */

/** The RULES_* parameters of the default set (the one definition). */
export type RuleSettings = Config["rules"];

const amount: Expr = { op: "amount" };
const hasProfile: Expr = { op: "not", arg: { op: "is_null", arg: { field: "profile" } } };
const present = (e: Expr): Expr => ({ op: "not", arg: { op: "is_null", arg: e } });

/** model.score at or above `level`, or at or above the model's own level (a null level: never). */
function atOrAbove(level: number, own?: "model.review_threshold" | "model.decline_threshold"): Expr {
  const fixed: Expr = { op: ">=", args: [{ field: "model.score" }, level] };
  return own
    ? { op: "or", args: [fixed, { op: ">=", args: [{ field: "model.score" }, { field: own }] }] }
    : fixed;
}

export function defaultRuleSet(s: RuleSettings): RuleSet {
  return {
    format: 1,
    description: "SentinelStream's default rules (RULES_* parameters)",
    thresholds: { review: s.reviewThreshold, decline: s.declineThreshold },
    rules: [
      {
        id: "velocity",
        description: `more than ${s.velocityMax} transactions (this one included) within ${s.velocityWindowSeconds} s`,
        when: {
          op: ">",
          args: [
            { op: "+", args: [{ agg: "count", window_seconds: s.velocityWindowSeconds }, 1] },
            s.velocityMax,
          ],
        },
        score: 50,
        at_least: "review",
      },
      {
        id: "unknown_user",
        description: "no profile for this user",
        when: { op: "is_null", arg: { field: "profile" } },
        score: 50,
        at_least: "review",
      },
      {
        id: "user_blocked",
        description: "the profile is blocked",
        when: { op: "==", args: [{ field: "profile.status" }, "blocked"] },
        score: 100,
        at_least: "decline",
      },
      {
        id: "currency_unconvertible",
        description: "another currency than the profile's, and no FX_RATES entry converts it",
        when: { op: "and", args: [hasProfile, { op: "is_null", arg: amount }] },
        score: 30,
        at_least: "review",
      },
      {
        id: "over_transaction_limit",
        description: "amount above the profile's per-transaction limit",
        when: { op: ">", args: [amount, { field: "profile.per_transaction_limit" }] },
        score: 90,
        at_least: "decline",
      },
      {
        id: "over_daily_limit",
        description: `spend in the last ${s.spendWindowHours} h plus this amount above the daily limit`,
        when: {
          op: ">",
          args: [
            { op: "+", args: [{ agg: "sum", window_seconds: s.spendWindowHours * 3_600 }, amount] },
            { field: "profile.daily_limit" },
          ],
        },
        score: 85,
        at_least: "decline",
      },
      {
        id: "high_risk_large_amount",
        description: `risk tier high and amount at least ${s.highRiskAmount} in the profile's currency`,
        when: {
          op: "and",
          args: [
            { op: "==", args: [{ field: "profile.risk_tier" }, "high"] },
            { op: ">=", args: [amount, { money: s.highRiskAmount }] },
          ],
        },
        score: 40,
        at_least: "review",
      },
      {
        id: "foreign_country",
        description: "a country other than the profile's home country",
        when: {
          op: "and",
          args: [
            hasProfile,
            present({ field: "tx.country" }),
            { op: "!=", args: [{ field: "tx.country" }, { field: "profile.home_country" }] },
          ],
        },
        score: 25,
      },
      ...behaviouralRules(),
      ...modelRules(s),
    ],
  };
}

/** Behavioural rules (need device and merchant signals the eight rules never looked at). */
function behaviouralRules(): RuleSet["rules"] {
  return [
    {
      id: "new_device_large_amount",
      description:
        "a device this user has not used in 30 days, on an amount of half the per-transaction limit or more, " +
        "for a user with history: account takeover pays from a new device, and pays big",
      when: {
        op: "and",
        args: [
          { agg: "first_seen", field: "device_id", window_seconds: 30 * 86_400 },
          { op: ">", args: [{ agg: "count", window_seconds: 30 * 86_400 }, 0] },
          { op: ">=", args: [{ op: "*", args: [amount, 2] }, { field: "profile.per_transaction_limit" }] },
        ],
      },
      score: 40,
      at_least: "review",
    },
    {
      id: "many_devices",
      description:
        "more than 3 distinct devices in 24 h (this one included): card-testing and shared-credential rings rotate devices",
      when: { op: ">", args: [{ agg: "count_distinct", field: "device_id", window_seconds: 86_400 }, 3] },
      score: 35,
      at_least: "review",
    },
    {
      id: "merchant_hopping",
      description:
        "more than 5 distinct merchants in 10 minutes (this one included): a stolen card is tried fast across many shops",
      when: { op: ">", args: [{ agg: "count_distinct", field: "merchant_id", window_seconds: 600 }, 5] },
      score: 45,
      at_least: "review",
    },
    {
      id: "mule_recipient",
      description:
        "a transfer (MCC 4829) to a recipient this user has not paid in 30 days, that 3 or more other users paid " +
        "in the last 48 h: many victims paying one new account is how authorised push-payment fraud cashes out",
      when: {
        op: "and",
        args: [
          { op: "==", args: [{ field: "tx.merchant_category" }, "4829"] },
          { agg: "first_seen", field: "merchant_id", window_seconds: 30 * 86_400 },
          { op: ">=", args: [{ field: "entity.merchant_users_48h" }, 3] },
        ],
      },
      score: 45,
      at_least: "review",
    },
  ];
}

/**
 * The learned score (issue 24): only once a model is active (`sentinel model activate`); from the
 * configured level, or (issue 36) from the model's own, chosen on its held-out days.
 */
function modelRules(s: RuleSettings): RuleSet["rules"] {
  const levels = [
    {
      id: "model_high_risk",
      level: s.modelReview,
      own: "model.review_threshold",
      per1000: MODEL_FLAG_PER_1000,
      score: 40,
      atLeast: "review",
    },
    {
      id: "model_very_high_risk",
      level: s.modelDecline,
      own: "model.decline_threshold",
      per1000: MODEL_DECLINE_PER_1000,
      score: 90,
      atLeast: "decline",
    },
  ] as const;
  return levels.map((r) => ({
    id: r.id,
    description: `the active model's fraud probability is ${r.level} or more${s.modelOwnThresholds ? `, or at least the level flagging ${r.per1000} per 1,000 on its held-out days` : ""}`,
    when: atOrAbove(Number(r.level), s.modelOwnThresholds ? r.own : undefined),
    score: r.score,
    at_least: r.atLeast,
  }));
}

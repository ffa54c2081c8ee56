import { createHash } from "node:crypto";
import type { DecisionOutcome } from "../../src/domain/decision.ts";
import { minorUnitsIn, toMinorUnits, unitsIn } from "../../src/domain/money.ts";
import type { Profile } from "../../src/domain/profile.ts";
import type { RuleSettings } from "../../src/rules/default-rule-set.ts";

/*
 * The rules as SentinelStream first shipped them, as code: the reference the default rule set
 * (src/rules/default-rule-set.ts) is proven equivalent to (test/unit/rules/default-rule-set.test.ts)
 * and the rules bench's baseline. Not used by the product.
 *
 * The fraud rules: pure functions of (transaction, profile, history, rule settings). No I/O, no
 * clock of their own. The windowed rules (velocity, rolling spend) run on the transactions' Kafka
 * timestamps (`receivedMs`), never on the client-chosen `timestamp`: a client cannot move a
 * transaction out of a window, and the log keeps those timestamps, so a replay decides the same way.
 */

/** What a rule needs of a transaction. `receivedMs` is its Kafka timestamp: the rules' clock. */
export type ScoredTransaction = {
  transactionId: string;
  userId: string;
  amount: string;
  currency: string;
  country: string | undefined;
  receivedMs: number;
};

/**
 * An earlier transaction of the same user — earlier in topic order, which the caller guarantees —
 * counted once per transaction_id.
 */
export type HistoryEntry = { transactionId: string; amount: string; currency: string; receivedMs: number };

export type Reason =
  | "user_blocked"
  | "over_transaction_limit"
  | "over_daily_limit"
  | "velocity"
  | "unknown_user"
  | "high_risk_large_amount"
  | "currency_unconvertible"
  | "foreign_country";

type RuleEffect = { weight: number; atLeast?: DecisionOutcome };

/** Weight added to the score, and the least outcome the reason forces, whatever the score. */
export const REASON_EFFECTS: Readonly<Record<Reason, RuleEffect>> = {
  user_blocked: { weight: 100, atLeast: "decline" },
  over_transaction_limit: { weight: 90, atLeast: "decline" },
  over_daily_limit: { weight: 85, atLeast: "decline" },
  velocity: { weight: 50, atLeast: "review" },
  unknown_user: { weight: 50, atLeast: "review" },
  high_risk_large_amount: { weight: 40, atLeast: "review" },
  currency_unconvertible: { weight: 30, atLeast: "review" },
  foreign_country: { weight: 25 },
};

export const RULES_MAJOR = "v1";

/** `v1-<hash of the settings>`: two runs share a version exactly when they decide alike. */
export function rulesVersion(settings: RuleSettings): string {
  const canonical = JSON.stringify({ settings, effects: REASON_EFFECTS }, (_k, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
  return `${RULES_MAJOR}-${createHash("sha256").update(canonical).digest("hex").slice(0, 10)}`;
}

export type Verdict = { decision: DecisionOutcome; score: number; reasons: Reason[] };

const RANK: Record<DecisionOutcome, number> = { approve: 0, review: 1, decline: 2 };

const inCurrency = (settings: RuleSettings, amount: string, currency: string, target: string) =>
  minorUnitsIn(settings.fxRates, amount, currency, target);

/**
 * Decides one transaction. `history` is what came before it in the topic; an entry counts in a
 * window when its Kafka timestamp is after the window's start, whatever its order against this
 * one's (came earlier, so it counts even if a producer's clock put it later). Entries outside the
 * windows are ignored here, so callers may pass the widest window. History in a currency that
 * cannot be converted is left out of the rolling spend (that transaction was flagged when it was
 * decided); each currency's total in the window is converted once.
 */
export function evaluate(
  settings: RuleSettings,
  tx: ScoredTransaction,
  profile: Profile | null,
  history: readonly HistoryEntry[],
): Verdict {
  const reasons: Reason[] = [];
  const velocityFrom = tx.receivedMs - settings.velocityWindowSeconds * 1000;
  const spendFrom = tx.receivedMs - settings.spendWindowHours * 3_600_000;

  let recent = 0;
  for (const h of history) if (h.receivedMs > velocityFrom) recent++;
  // "More than N transactions in the window", counting this one.
  if (recent + 1 > settings.velocityMax) reasons.push("velocity");

  if (profile === null) {
    reasons.push("unknown_user");
  } else {
    if (profile.status === "blocked") reasons.push("user_blocked");
    const amount = inCurrency(settings, tx.amount, tx.currency, profile.currency);
    if (amount === undefined) {
      reasons.push("currency_unconvertible");
    } else {
      if (amount > toMinorUnits(profile.per_transaction_limit, profile.currency)) {
        reasons.push("over_transaction_limit");
      }
      // Each currency's total in the window, converted once (docs/rules.md#aggregates).
      const totals = new Map<string, bigint>();
      for (const h of history) {
        if (h.receivedMs <= spendFrom) continue;
        totals.set(h.currency, (totals.get(h.currency) ?? 0n) + toMinorUnits(h.amount, h.currency));
      }
      let spent = 0n;
      for (const [currency, units] of totals)
        spent += unitsIn(settings.fxRates, units, currency, profile.currency) ?? 0n;
      if (spent + amount > toMinorUnits(profile.daily_limit, profile.currency))
        reasons.push("over_daily_limit");
      if (profile.risk_tier === "high" && amount >= toMinorUnits(settings.highRiskAmount, profile.currency)) {
        reasons.push("high_risk_large_amount");
      }
    }
    if (tx.country !== undefined && tx.country !== profile.home_country) reasons.push("foreign_country");
  }

  let score = 0;
  let floor: DecisionOutcome = "approve";
  for (const r of reasons) {
    const effect = REASON_EFFECTS[r];
    score += effect.weight;
    if (effect.atLeast && RANK[effect.atLeast] > RANK[floor]) floor = effect.atLeast;
  }
  score = Math.min(100, score);
  const byScore: DecisionOutcome =
    score >= settings.declineThreshold ? "decline" : score >= settings.reviewThreshold ? "review" : "approve";
  const decision = RANK[byScore] >= RANK[floor] ? byScore : floor;
  return { decision, score, reasons };
}

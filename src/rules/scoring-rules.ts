import type { Profile } from "../domain/profile.ts";
import { FEATURE_TERMS, FEATURE_WINDOW_MS } from "../model/features.ts";
import type { ScoringModel } from "../model/model.ts";
import {
  evaluateRuleSet,
  type RuleContext,
  type RuleHistoryEntry,
  type RuleTransaction,
  type RuleVerdict,
} from "./evaluator.ts";
import type { RuleHistory } from "./history.ts";
import {
  type AggregateTerm,
  aggregateTerms,
  type RuleSet,
  ruleSetVersion,
  termKey,
  widestWindowMs,
} from "./rule-language.ts";
import { usesModel } from "./rule-set-refs.ts";

/** A rule set ready to score with: its version, the history it needs, FX rates and named lists. */
export type ScoringRules = {
  version: string;
  /** The model `model.score` reads, when one is active and the set reads it. */
  model?: ScoringModel;
  ruleSet: RuleSet;
  /** How far back a round must load history for the widest aggregate window. */
  widestWindowMs: number;
  /** The aggregates it computes (what the per-user state must answer). */
  terms: readonly AggregateTerm[];
  context: RuleContext;
  evaluate(
    tx: RuleTransaction,
    profile: Profile | null,
    history: readonly RuleHistoryEntry[] | RuleHistory,
  ): RuleVerdict;
};

/**
 * A blocked user is declined whatever the rule set says (issue 20): a set that dropped or changed
 * the `user_blocked` rule cannot let a user an analyst blocked through. The decision is decline,
 * `user_blocked` is among the reasons and the score is 100; a verdict that already says so is
 * returned as it is (the default set's own rule does).
 */
export function enforceBlock(verdict: RuleVerdict, profile: Profile | null): RuleVerdict {
  if (profile?.status !== "blocked") return verdict;
  if (verdict.decision === "decline" && verdict.reasons.includes("user_blocked")) return verdict;
  const reasons = verdict.reasons.includes("user_blocked")
    ? verdict.reasons
    : [...verdict.reasons, "user_blocked"];
  return { decision: "decline", score: 100, reasons };
}

export function scoringRules(
  ruleSet: RuleSet,
  fxRates: Readonly<Record<string, string>>,
  lists: RuleContext["lists"] = new Map(),
  version = ruleSetVersion(ruleSet),
  model?: ScoringModel,
  snoozes?: RuleContext["snoozes"],
): ScoringRules {
  // The model's features are computed only for a set that reads model.score: a round then loads
  // what they ask of the history too.
  const withModel = model && usesModel(ruleSet) ? model : undefined;
  const context = {
    fxRates,
    lists,
    ...(withModel ? { model: withModel } : {}),
    ...(snoozes && snoozes.size > 0 ? { snoozes } : {}),
  };
  const terms = aggregateTerms(ruleSet);
  return {
    version,
    ...(withModel ? { model: withModel } : {}),
    ruleSet,
    widestWindowMs: Math.max(widestWindowMs(ruleSet), withModel ? FEATURE_WINDOW_MS : 0),
    terms: withModel ? dedupeTerms([...terms, ...FEATURE_TERMS]) : terms,
    context,
    evaluate: (tx, profile, history) =>
      enforceBlock(evaluateRuleSet(ruleSet, tx, profile, history, context), profile),
  };
}

/** Terms without repeats (the same aggregate, window and field once). */
function dedupeTerms(terms: readonly AggregateTerm[]): AggregateTerm[] {
  return [...new Map(terms.map((t) => [termKey(t), t])).values()];
}

import type { Profile } from "../domain/profile.ts";
import {
  evaluateRuleSet,
  type RuleContext,
  type RuleHistoryEntry,
  type RuleTransaction,
  type RuleVerdict,
} from "./evaluator.ts";
import { type RuleSet, ruleSetVersion, widestWindowMs } from "./rule-language.ts";

/** A rule set ready to score with: its version, the history it needs, FX rates and named lists. */
export type ScoringRules = {
  version: string;
  ruleSet: RuleSet;
  /** How far back a round must load history for the widest aggregate window. */
  widestWindowMs: number;
  context: RuleContext;
  evaluate(tx: RuleTransaction, profile: Profile | null, history: readonly RuleHistoryEntry[]): RuleVerdict;
};

export function scoringRules(
  ruleSet: RuleSet,
  fxRates: Readonly<Record<string, string>>,
  lists: RuleContext["lists"] = new Map(),
  version = ruleSetVersion(ruleSet),
): ScoringRules {
  const context = { fxRates, lists };
  return {
    version,
    ruleSet,
    widestWindowMs: widestWindowMs(ruleSet),
    context,
    evaluate: (tx, profile, history) => evaluateRuleSet(ruleSet, tx, profile, history, context),
  };
}

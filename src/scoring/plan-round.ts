import type { Decision } from "../domain/decision.ts";
import { payloadFingerprint } from "../domain/transaction.ts";
import type { ScoringRules } from "../rules/scoring-rules.ts";
import type { StoredDecision } from "../store/transaction-store.ts";
import { decide } from "./decide.ts";
import { type Candidate, conflict, type Decoded } from "./decode-round.ts";
import type { RoundContext } from "./load-context.ts";
import type { ChunkResult } from "./round.ts";

/*
 * Phase 3 of a round, pure: from the decoded transactions and their context, what to store, what
 * to publish and what to dead-letter. No I/O and no clock of its own.
 */

export type RoundPlan = {
  /** Per chunk: its dead letters so far (its decisions are assembled after persistence). */
  results: ChunkResult[];
  /** The round's valid transactions, id conflicts removed, in topic order. */
  valid: Candidate[];
  /** Not stored yet: to be stored with their decisions. */
  fresh: Candidate[];
  /** Live decisions stored already; persistence adds those another consumer stored first. */
  stored: Map<string, StoredDecision>;
  /** This round's decisions: of `fresh`, or of every valid one when re-deciding. */
  decided: Map<string, Decision>;
  /** The shadow set's decisions of `fresh`, stored beside the live ones, never published. */
  shadowed: Map<string, Decision>;
  /** The ids the live insert wrote (set by persistence). */
  inserted: Set<string>;
};

export type PlanInput = {
  decoded: Decoded;
  context: RoundContext;
  results: ChunkResult[];
  rules: ScoringRules;
  /** Decides the new transactions too, for storing beside (live rounds with a shadow set). */
  shadow?: ScoringRules;
  /** Decide the stored transactions again too (replay --redecide). */
  redecide: boolean;
  decidedAt: string;
};

export function planRound(input: PlanInput): RoundPlan {
  const { decoded, context, results, rules, shadow, redecide, decidedAt } = input;
  // A stored transaction_id with another payload: the stored row and decision stay as they are.
  const conflicting = new Set<string>();
  for (const v of decoded.valid) {
    const old = context.stored.get(v.tx.transaction_id);
    if (old && old.fingerprint !== payloadFingerprint(v.tx)) {
      conflicting.add(v.tx.transaction_id);
      results[v.chunk]!.deadLetters.push(conflict(v.message, v.tx.transaction_id));
    }
  }
  for (const r of decoded.repeats)
    if (conflicting.has(r.id)) results[r.chunk]!.deadLetters.push(conflict(r.message, r.id));
  const valid =
    conflicting.size > 0 ? decoded.valid.filter((v) => !conflicting.has(v.tx.transaction_id)) : decoded.valid;
  const fresh = valid.filter((v) => !context.stored.has(v.tx.transaction_id));
  const decideWith = (transactions: readonly Candidate[], set: ScoringRules) =>
    transactions.length === 0
      ? new Map<string, Decision>()
      : decide({
          transactions,
          profiles: context.profiles,
          history: context.history,
          states: context.states,
          entities: context.entities,
          rules: set,
          decidedAt,
        });
  return {
    results,
    valid,
    fresh,
    stored: context.stored,
    decided: decideWith(redecide ? valid : fresh, rules),
    // The shadow decides what the live rules decide, from the same history and profiles.
    shadowed: shadow ? decideWith(fresh, shadow) : new Map(),
    inserted: new Set(),
  };
}

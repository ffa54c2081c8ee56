import type { Decision } from "../domain/decision.ts";
import type { Profile } from "../domain/profile.ts";
import type { SourcedTransaction } from "../domain/transaction.ts";
import { getOrSet } from "../maps.ts";
import type { RuleHistoryEntry, RuleTransaction, RuleVerdict } from "../rules/evaluator.ts";
import type { ScoringRules } from "../rules/scoring-rules.ts";
import { type StoredState, UserState } from "../rules/user-state.ts";
import type { StoredHistoryRow } from "../store/transaction-store.ts";

/*
 * The decide phase of a round: a pure function of (transactions in topic order, profiles, stored
 * history, rule settings) → decisions. No I/O and no clock of its own (`decidedAt` is given), so
 * it is unit-tested and property-tested without any server. The laws it carries:
 *  - a transaction is never its own history (its stored row may sit at an earlier offset when the
 *    message was sent twice);
 *  - history is what came earlier in the topic: a lower offset of the same partition (a user's
 *    messages share one), or, across partitions (only after a partition-count change), an earlier
 *    Kafka timestamp; the transactions of this round count for the later ones of the same user;
 *  - each transaction_id is decided once;
 *  - other users' transactions change nothing.
 */

export type DecideInput = {
  /** Each partition's transactions in offset order (partitions may interleave). */
  transactions: readonly SourcedTransaction[];
  profiles: ReadonlyMap<string, Profile | null>;
  /** Stored transactions of the users decided from rows (any superset of the windows is fine). */
  history: readonly StoredHistoryRow[];
  /**
   * The state of the users decided from it: every stored transaction of theirs is earlier than
   * these (see `eligible`); each call builds its own, so a shadow set decides from the same.
   */
  states?: ReadonlyMap<string, StoredState>;
  /** The entity features of the transactions, by transaction_id (load-context.ts); absent, 0. */
  entities?: ReadonlyMap<string, Float64Array>;
  rules: ScoringRules;
  decidedAt: string;
};

/** Whether `h` came before `tx` in the topic. */
export function isEarlier(
  h: Pick<StoredHistoryRow, "partition" | "offset" | "receivedMs">,
  tx: Pick<SourcedTransaction, "partition" | "offset" | "receivedMs">,
): boolean {
  return h.partition === tx.partition ? h.offset < tx.offset : h.receivedMs < tx.receivedMs;
}

/** What the rules see of a transaction: its amount, currency, Kafka timestamp and the fields aggregates count. */
export function ruleTransaction(v: SourcedTransaction): RuleTransaction {
  const { tx } = v;
  const out: RuleTransaction = {
    transactionId: tx.transaction_id,
    userId: tx.user_id,
    amount: tx.amount,
    currency: tx.currency,
    receivedMs: v.receivedMs,
  };
  if (tx.country !== undefined) out.country = tx.country;
  if (tx.device_id !== undefined) out.device_id = tx.device_id;
  if (tx.merchant_id !== undefined) out.merchant_id = tx.merchant_id;
  if (tx.merchant_category !== undefined) out.merchant_category = tx.merchant_category;
  if (tx.channel !== undefined) out.channel = tx.channel;
  if (tx.ip !== undefined) out.ip = tx.ip;
  return out;
}

export function decide(input: DecideInput): Map<string, Decision> {
  const { transactions, profiles, rules, decidedAt } = input;
  const decision = ({ tx }: SourcedTransaction, verdict: RuleVerdict): Decision => ({
    transaction_id: tx.transaction_id,
    user_id: tx.user_id,
    decision: verdict.decision,
    score: verdict.score,
    reasons: verdict.reasons,
    rules_version: rules.version,
    decided_at: decidedAt,
  });
  const stored = new Map<string, StoredHistoryRow[]>();
  for (const row of input.history) getOrSet(stored, row.userId, () => []).push(row);
  // This round's transactions decided so far, per user, with where they were read.
  const round = new Map<string, Array<RuleHistoryEntry & Pick<SourcedTransaction, "partition" | "offset">>>();
  const decided = new Map<string, Decision>();
  const states = new Map<string, UserState>();
  const stateOf = (user: string): UserState | undefined => {
    const stored = input.states?.get(user);
    if (!stored) return undefined;
    return getOrSet(states, user, () => new UserState(stored));
  };

  for (const v of transactions) {
    const { tx } = v;
    if (decided.has(tx.transaction_id)) continue;
    const self = ruleTransaction(v);
    const entities = input.entities?.get(tx.transaction_id);
    if (entities) self.entities = entities;
    const state = stateOf(tx.user_id);
    if (state) {
      decided.set(
        tx.transaction_id,
        decision(v, rules.evaluate(self, profiles.get(tx.user_id) ?? null, state)),
      );
      state.apply(self);
      continue;
    }
    const history: RuleHistoryEntry[] = [];
    const counted = new Set<string>([tx.transaction_id]);
    // Stored rows first, then this round's: each earlier transaction_id once.
    for (const rows of [stored.get(tx.user_id), round.get(tx.user_id)]) {
      for (const h of rows ?? []) {
        if (isEarlier(h, v) && !counted.has(h.transactionId)) {
          counted.add(h.transactionId);
          history.push(h);
        }
      }
    }
    decided.set(
      tx.transaction_id,
      decision(v, rules.evaluate(self, profiles.get(tx.user_id) ?? null, history)),
    );
    getOrSet(round, tx.user_id, () => []).push({ ...self, partition: v.partition, offset: v.offset });
  }
  return decided;
}

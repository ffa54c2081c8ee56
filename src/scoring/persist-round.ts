import type { TransactionStore } from "../store/transaction-store.ts";
import type { RoundPlan } from "./plan-round.ts";
import type { ScoreMode } from "./round.ts";

/*
 * Phase 4 of a round: the writes, one small step each, and the steps of each mode. Every write is
 * idempotent on transaction_id, so a round retried after a fault changes nothing it already did.
 */

export type PersistStore = Pick<TransactionStore, "storeDecided" | "storeRedecided" | "findLiveDecisions">;
type PersistStep = (store: PersistStore, plan: RoundPlan) => Promise<void>;

/**
 * New transactions with their live decisions (and cases), in one statement. Another consumer (a
 * zombie after a rebalance, or the live group during a replay) may have stored some first: theirs
 * is the decision of record, and the plan takes it.
 */
const storeFresh: PersistStep = async (store, plan) => {
  if (plan.fresh.length === 0) return;
  plan.inserted = await store.storeDecided(
    plan.fresh.map((v) => ({ source: v, decision: plan.decided.get(v.tx.transaction_id)! })),
  );
  const lost = plan.fresh
    .filter((v) => !plan.inserted.has(v.tx.transaction_id))
    .map((v) => v.tx.transaction_id);
  if (lost.length > 0) {
    for (const [id, d] of await store.findLiveDecisions(lost)) plan.stored.set(id, d);
  }
};

/** The shadow set's decisions of what this round inserted, beside the live ones (live = false). */
const storeShadow: PersistStep = async (store, plan) => {
  if (plan.shadowed.size === 0) return;
  const ids = plan.fresh.map((v) => v.tx.transaction_id).filter((id) => plan.inserted.has(id));
  if (ids.length > 0) await store.storeRedecided(ids.map((id) => plan.shadowed.get(id)!));
};

/** Re-decided stored transactions, beside their live decisions (live = false, under this version). */
const storeRedecided: PersistStep = async (store, plan) => {
  const ids = plan.valid.map((v) => v.tx.transaction_id).filter((id) => plan.stored.has(id));
  if (ids.length > 0) await store.storeRedecided(ids.map((id) => plan.decided.get(id)!));
};

const STEPS = {
  live: [storeFresh, storeShadow],
  redecide: [storeFresh, storeRedecided],
  // A candidate nobody activated stores no transaction and no live decision.
  backtest: [storeRedecided],
  dryRun: [],
} as const satisfies Record<string, readonly PersistStep[]>;

/** The writes of a mode: live, re-decide (replay --redecide), backtest (--rules) or dry run (nothing). */
export function persistSteps(mode: ScoreMode): readonly PersistStep[] {
  if (!mode.store) return STEPS.dryRun;
  if (mode.backtest) return STEPS.backtest;
  return mode.redecide ? STEPS.redecide : STEPS.live;
}

/** Runs the mode's steps in order. @throws SentinelError on a store fault (the round is retried). */
export async function persistRound(store: PersistStore, plan: RoundPlan, mode: ScoreMode): Promise<void> {
  for (const step of persistSteps(mode)) await step(store, plan);
}

import type { EntityMemory } from "../cache/entity-memory.ts";
import type { ProfileCache } from "../cache/redis-profile-cache.ts";
import type { ScoringRules } from "../rules/scoring-rules.ts";
import type { KnownStateUsers } from "../rules/user-state-request.ts";
import type { TransactionStore } from "../store/transaction-store.ts";
import { type DecodeDeps, decodeRound } from "./decode-round.ts";
import { loadContext } from "./load-context.ts";
import { persistRound } from "./persist-round.ts";
import { planRound, type RoundPlan } from "./plan-round.ts";
import { type Chunk, type ChunkResult, emptyResult, LIVE, type ScoreMode } from "./round.ts";

export type ScoringDeps = DecodeDeps & {
  store: Pick<
    TransactionStore,
    | "findLiveDecisions"
    | "findHistory"
    | "loadUserState"
    | "buildUserState"
    | "storeDecided"
    | "storeRedecided"
  >;
  profiles: Pick<ProfileCache, "getMany">;
  /** Other users seen on each transaction's merchant and device (issue 36 §2); absent, none. */
  entities?: EntityMemory;
  /** Users known to have per-user state (load-context.ts); absent, every round asks for all. */
  knownState?: KnownStateUsers;
  /** The rule set to decide with (its version goes on every decision). */
  rules: ScoringRules;
  /** A shadow rule set: new transactions are also decided with it, stored beside (never published). */
  shadow?: ScoringRules;
  now?: () => number;
  /** Where a round's time goes (seconds per stage); absent, nothing is measured. */
  observeStage?: (stage: RoundStage, seconds: number) => void;
};

export type RoundStage = "queued" | "decode" | "load_context" | "decide" | "persist" | "publish";

/** The oldest message's broker timestamp of the round (LogAppendTime on the transactions topic). */
function oldestTimestamp(chunks: readonly Chunk[]): number {
  let oldest = Number.POSITIVE_INFINITY;
  for (const c of chunks) {
    const first = c.messages[0];
    if (first) oldest = Math.min(oldest, Number(first.timestamp));
  }
  return oldest;
}

/**
 * Turns chunks (each from one partition, messages in offset order; usually the chunks that several
 * partitions have ready at the same moment) into stored transactions and decisions, in named
 * phases: decode → load context → plan (decide) → persist → assemble. Four round trips whatever the
 * number of chunks and messages: stored decisions, profiles and history in parallel, then one
 * insert. Returns one result per chunk, in order.
 * @throws SentinelError on infrastructure faults; the caller retries, which is safe because every
 * write is idempotent on transaction_id.
 */
export async function scoreRound(
  deps: ScoringDeps,
  chunks: readonly Chunk[],
  mode: ScoreMode = LIVE,
  /** When given, each phase's start and end (ms since the epoch) are added to it (traces). */
  timings?: PhaseTiming[],
): Promise<ChunkResult[]> {
  // Read once: a rule set activated meanwhile applies from the next round on.
  const rules = deps.rules;
  const shadow = mode.store && !mode.redecide ? deps.shadow : undefined;
  const results = chunks.map(emptyResult);
  const stage = stageClock(deps.observeStage, timings);
  if (deps.observeStage)
    deps.observeStage("queued", Math.max(0, Date.now() - oldestTimestamp(chunks)) / 1000);
  const decoded = await decodeRound(deps, chunks, results);
  stage("decode");
  if (decoded.valid.length === 0) return results;
  const context = await loadContext(deps, decoded.valid, [rules, shadow], mode);
  stage("load_context");
  const decidedAt = new Date((deps.now ?? Date.now)()).toISOString();
  const plan = planRound({ decoded, context, results, rules, shadow, redecide: mode.redecide, decidedAt });
  stage("decide");
  await persistRound(deps.store, plan, mode);
  stage("persist");
  return assemble(plan, mode);
}

/** A phase of a round, in ms since the epoch. */
export type PhaseTiming = { name: string; startMs: number; endMs: number };

/** Milliseconds since the epoch, with a fraction. */
export const epochMs = () => performance.timeOrigin + performance.now();

/** Observes the time since the previous stage ended (nothing when neither observed nor timed). */
function stageClock(
  observe: ScoringDeps["observeStage"],
  timings?: PhaseTiming[],
): (stage: RoundStage) => void {
  if (!observe && !timings) return () => {};
  let last = performance.now();
  return (stage) => {
    const now = performance.now();
    observe?.(stage, (now - last) / 1000);
    timings?.push({
      name: stage,
      startMs: performance.timeOrigin + last,
      endMs: performance.timeOrigin + now,
    });
    last = now;
  };
}

/** Phase 5: each chunk's decisions in topic order, and its letters (found in different phases) by offset. */
function assemble(plan: RoundPlan, mode: ScoreMode): ChunkResult[] {
  for (const r of plan.results) {
    if (r.deadLetters.length > 1)
      r.deadLetters.sort((a, b) => Number(a.message.offset) - Number(b.message.offset));
  }
  for (const v of plan.valid) {
    const id = v.tx.transaction_id;
    const mine = plan.decided.get(id);
    const old = plan.stored.get(id)?.decision;
    const result = plan.results[v.chunk]!;
    if (old) {
      result.decisions.push({ decision: old, replayed: true });
      if (mode.redecide && mine) result.redecided.push({ before: old, after: mine });
    } else if (mine) {
      result.decisions.push({ decision: mine, replayed: false });
    }
  }
  return plan.results;
}

import type { ProfileCache } from "../cache/redis-profile-cache.ts";
import type { Profile } from "../domain/profile.ts";
import type { ScoringRules } from "../rules/scoring-rules.ts";
import type { StoredDecision, StoredHistoryRow, TransactionStore } from "../store/transaction-store.ts";
import type { Candidate } from "./decode-round.ts";

/*
 * Phase 2 of a round, load context: what is stored already, and the profiles and stored history of
 * the users of what is not. One query each, whatever the number of chunks and messages.
 *
 * History lives in PostgreSQL, not in Redis sorted sets: the transactions table already holds every
 * transaction exactly once (primary key transaction_id) with where it was read, and it is written
 * in the same statement as the decision, so history and decisions can never disagree after a
 * crash, and a replay counts each transaction once without a second store to keep idempotent.
 * Redis holds only a cache of profiles, which may be lost at any time. One query per round reads
 * the history of every user in it (index on user_id, received_at).
 */

export type RoundContext = {
  stored: Map<string, StoredDecision>;
  profiles: Map<string, Profile | null>;
  history: readonly StoredHistoryRow[];
};

export type ContextDeps = {
  store: Pick<TransactionStore, "findLiveDecisions" | "findHistory">;
  profiles: Pick<ProfileCache, "getMany">;
};

/** Profiles and stored history of the users of `these`, as far back as the widest window needs. */
function profilesAndHistory(
  deps: ContextDeps,
  widestWindowMs: number,
  these: readonly Candidate[],
): Promise<[Map<string, Profile | null>, StoredHistoryRow[]]> {
  if (these.length === 0) return Promise.resolve([new Map(), []]);
  const users = [...new Set(these.map((v) => v.tx.user_id))];
  let from = Number.POSITIVE_INFINITY;
  for (const v of these) from = Math.min(from, v.receivedMs);
  return Promise.all([deps.profiles.getMany(users), deps.store.findHistory(users, from - widestWindowMs)]);
}

/**
 * Live: the reads do not depend on each other, so one round trip of latency, not two. A replay of a
 * processed range (`storedFirst`) is mostly stored already, so it asks that first and loads the
 * context of the rest only (of all, when re-deciding).
 * @throws SentinelError(store_unavailable | cache_unavailable).
 */
export async function loadContext(
  deps: ContextDeps,
  candidates: readonly Candidate[],
  rules: readonly (ScoringRules | undefined)[],
  { storedFirst = false, redecide = false }: { storedFirst?: boolean; redecide?: boolean },
): Promise<RoundContext> {
  const widest = Math.max(0, ...rules.map((r) => r?.widestWindowMs ?? 0));
  const ids = candidates.map((v) => v.tx.transaction_id);
  if (!storedFirst) {
    const [stored, [profiles, history]] = await Promise.all([
      deps.store.findLiveDecisions(ids),
      profilesAndHistory(deps, widest, candidates),
    ]);
    return { stored, profiles, history };
  }
  const stored = await deps.store.findLiveDecisions(ids);
  const these = redecide ? candidates : candidates.filter((v) => !stored.has(v.tx.transaction_id));
  const [profiles, history] = await profilesAndHistory(deps, widest, these);
  return { stored, profiles, history };
}

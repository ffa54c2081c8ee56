import type { EntityMemory } from "../cache/entity-memory.ts";
import type { ProfileCache } from "../cache/redis-profile-cache.ts";
import type { Profile } from "../domain/profile.ts";
import type { AggregateTerm } from "../rules/rule-language.ts";
import type { ScoringRules } from "../rules/scoring-rules.ts";
import type { StoredState } from "../rules/user-state.ts";
import {
  eligible,
  type KnownStateUsers,
  planStateRequest,
  STATE_AFTER,
} from "../rules/user-state-request.ts";
import type { StoredDecision, StoredHistoryRow, TransactionStore } from "../store/transaction-store.ts";
import type { Candidate } from "./decode-round.ts";

/*
 * Phase 2 of a round, load context: what is stored already, the profiles of the users of what is
 * not, and what the rules need of their earlier transactions. One query each, whatever the number
 * of chunks and messages.
 *
 * The transactions table holds every transaction exactly once (primary key transaction_id) with
 * where it was read, written in the same statement as the decision, the user's position and, for a
 * user past STATE_AFTER transactions, its state (src/consumer/user-state.ts: time buckets and
 * last-seen values), so none can disagree with the decisions after a crash, and a replay counts
 * each transaction once. A live round reads a user's rows (at most STATE_AFTER of them) or its
 * state: a bounded number of rows per user, however long its history (issue 21); a user met past
 * STATE_AFTER without state gets it built, once. Users whose state does not stand for "everything
 * earlier in the topic" (stored rows from another partition or at a later offset: a
 * partition-count change, a replay of an older range) and every user of a re-deciding replay are
 * read from their rows; both answer alike (src/rules/history.ts). Redis holds only a cache of
 * profiles, which may be lost at any time.
 */

export type RoundContext = {
  stored: Map<string, StoredDecision>;
  profiles: Map<string, Profile | null>;
  /** Stored rows of the users decided from rows. */
  history: readonly StoredHistoryRow[];
  /** The state of the users decided from their state. */
  states: ReadonlyMap<string, StoredState>;
  /** The entity features of the transactions decided, by transaction_id (none without a memory). */
  entities: ReadonlyMap<string, Float64Array>;
};

export type ContextDeps = {
  /** Users known to have state; absent, every round asks the state of every user. */
  knownState?: KnownStateUsers;
  store: Pick<TransactionStore, "findLiveDecisions" | "findHistory" | "loadUserState" | "buildUserState">;
  profiles: Pick<ProfileCache, "getMany">;
  /** Other users seen on each transaction's merchant and device (issue 36 §2); absent, none. */
  entities?: EntityMemory;
};

const NO_ENTITIES: ReadonlyMap<string, Float64Array> = new Map();

/** The entity features of `these`, read (and, when storing, recorded) in received order. */
function entitiesOf(deps: ContextDeps, these: readonly Candidate[], record: boolean) {
  if (!deps.entities || these.length === 0) return Promise.resolve(NO_ENTITIES);
  const ordered = these.toSorted(
    (a, b) => a.receivedMs - b.receivedMs || a.partition - b.partition || a.offset - b.offset,
  );
  return deps.entities.observe(
    ordered.map(({ tx, receivedMs }) => ({
      transactionId: tx.transaction_id,
      user: tx.user_id,
      receivedMs,
      merchant_id: tx.merchant_id,
      device_id: tx.device_id,
    })),
    record,
  );
}

/** Stored rows of `these`' users (of those without state), as far back as the widest window needs. */
function rowsOf(
  deps: ContextDeps,
  widestWindowMs: number,
  these: readonly Candidate[],
  withoutState = false,
) {
  if (these.length === 0) return Promise.resolve([]);
  let from = Number.POSITIVE_INFINITY;
  for (const v of these) from = Math.min(from, v.receivedMs);
  const users = [...new Set(these.map((v) => v.tx.user_id))];
  return deps.store.findHistory(users, from - widestWindowMs, { withoutState });
}

/** The state of users found to have one that this process did not know of (once per user). */
async function loadLate(
  deps: ContextDeps,
  known: KnownStateUsers,
  loaded: Map<string, StoredState>,
  txsOf: (users: Iterable<string>) => Map<string, Candidate[]>,
  terms: readonly AggregateTerm[],
): Promise<void> {
  const late: string[] = [];
  for (const [user, state] of loaded) {
    if (!state.position?.ready) known.delete(user);
    else if (!known.has(user)) late.push(user);
  }
  if (late.length === 0) return;
  for (const [user, state] of await deps.store.loadUserState(planStateRequest(txsOf(late), terms))) {
    loaded.set(user, state);
    known.add(user);
  }
}

/**
 * Live: the reads do not depend on each other, so one round trip of latency (two for a user that
 * needs its rows). A replay of a processed range (`storedFirst`) is mostly stored already, so it
 * asks that first and loads the context of the rest only (of all, from rows, when re-deciding).
 * @throws SentinelError(store_unavailable | cache_unavailable).
 */
export async function loadContext(
  deps: ContextDeps,
  candidates: readonly Candidate[],
  rules: readonly (ScoringRules | undefined)[],
  {
    storedFirst = false,
    redecide = false,
    store = true,
  }: { storedFirst?: boolean; redecide?: boolean; store?: boolean },
): Promise<RoundContext> {
  const sets = rules.filter((r): r is ScoringRules => r !== undefined);
  const widest = Math.max(0, ...sets.map((r) => r.widestWindowMs));
  const ids = candidates.map((v) => v.tx.transaction_id);
  const profilesOf = (these: readonly Candidate[]) =>
    these.length === 0 ? new Map() : deps.profiles.getMany([...new Set(these.map((v) => v.tx.user_id))]);
  if (redecide) {
    const stored = await deps.store.findLiveDecisions(ids);
    const [profiles, history, entities] = await Promise.all([
      profilesOf(candidates),
      rowsOf(deps, widest, candidates),
      entitiesOf(deps, candidates, store),
    ]);
    return { stored, profiles, history, states: new Map(), entities };
  }
  const storedNow = storedFirst ? await deps.store.findLiveDecisions(ids) : undefined;
  const these = storedNow ? candidates.filter((v) => !storedNow.has(v.tx.transaction_id)) : candidates;
  const users = Map.groupBy(these, (v) => v.tx.user_id);
  const terms = sets.flatMap((r) => r.terms);
  const txsOf = (only: Iterable<string>) => new Map([...only].map((u) => [u, users.get(u)!]));
  const known = deps.knownState;
  const request = planStateRequest(users, terms, (u) => known?.has(u) ?? true);
  const [stored, profiles, loaded, rows, entities] = await Promise.all([
    storedNow ?? deps.store.findLiveDecisions(ids),
    profilesOf(these),
    these.length === 0 ? new Map<string, StoredState>() : deps.store.loadUserState(request),
    rowsOf(deps, widest, these, true),
    entitiesOf(deps, these, store),
  ]);
  if (known) await loadLate(deps, known, loaded, txsOf, terms);
  const states = new Map<string, StoredState>();
  const notEligible: Candidate[] = [];
  const toBuild: string[] = [];
  for (const [user, list] of users) {
    const fresh = list.filter((v) => !stored.has(v.tx.transaction_id));
    if (fresh.length === 0) continue;
    const state = loaded.get(user);
    const position = state?.position;
    if (state && eligible(state, fresh)) states.set(user, state);
    else if (position?.ready)
      notEligible.push(...fresh); // its rows were not read
    else if ((position?.count ?? 0) > STATE_AFTER) toBuild.push(user); // decided from rows this once
  }
  const more = await rowsOf(deps, widest, notEligible);
  // Its rows are read this round; the next ones read its state. Before this round stores anything.
  if (toBuild.length > 0) for (const u of await deps.store.buildUserState(toBuild)) known?.add(u);
  const history = more.length > 0 ? [...rows, ...more] : rows;
  return { stored, profiles, history, states, entities };
}

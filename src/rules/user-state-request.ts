import type { AggField, AggregateTerm } from "./rule-language.ts";
import { DAY, GRAINS, type Grain, HOUR, MINUTE, type StoredState } from "./user-state.ts";

/*
 * What a round asks the store for of its users' state (src/rules/user-state.ts): the bucket
 * ranges, edge rows and values its rule set's aggregates need, merged per user; which users have
 * state; and whether a user's state may stand for its whole history (`eligible`).
 */

/** What a round asks the store for, every range inclusive (bucket indexes) or open (edge ms). */
export type StateRequest = {
  users: string[];
  buckets: Array<{ userId: string; grain: Grain; lo: number; hi: number }>;
  edges: Array<{ userId: string; fromMs: number; toMs: number }>;
  recentValues: Array<{ userId: string; field: AggField; fromMs: number }>;
  values: Array<{ userId: string; field: AggField; value: string }>;
};

/**
 * A user gets state once it has more stored transactions than this (its rows are read until then:
 * at most this many per round). Building it is one transaction per user (buildUserState).
 */
export const STATE_AFTER = 256;

/**
 * The users this process has seen with state, most recent last, at most `cap`: a round asks the
 * state of these only (the others' positions tell whether they have one), so the usual round — of
 * users with few transactions — does not send ranges for every user. One that is not known costs
 * one more query, once.
 */
export class KnownStateUsers {
  readonly #users = new Set<string>();
  readonly cap: number;
  constructor(cap = 100_000) {
    this.cap = cap;
  }
  has(user: string): boolean {
    return this.#users.has(user);
  }
  add(user: string): void {
    this.#users.delete(user);
    this.#users.add(user);
    if (this.#users.size > this.cap) this.#users.delete(this.#users.values().next().value!);
  }
  delete(user: string): void {
    this.#users.delete(user);
  }
}

/** A transaction to decide, as a round holds it (a Candidate fits): where it was read, its fields. */
type Transaction = {
  receivedMs: number;
  partition: number;
  offset: number;
  tx: Partial<Record<AggField, string>>;
};

const TOTALS: ReadonlySet<AggregateTerm["agg"]> = new Set(["count", "sum", "avg"]);

/** Merges overlapping or adjacent inclusive ranges. */
function merge(ranges: Array<[number, number]>): Array<[number, number]> {
  ranges.sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const r of ranges) {
    const last = out.at(-1);
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

/**
 * The rows a round needs of these users' state for these aggregates: per user and window, the
 * edge minute and the minute, hour and day buckets the decomposition reads between the first and
 * the last transaction's window start.
 */
export function planStateRequest(
  byUser: ReadonlyMap<string, readonly Transaction[]>,
  terms: readonly AggregateTerm[],
  withState: (user: string) => boolean = () => true,
): StateRequest {
  const request: StateRequest = {
    users: [...byUser.keys()],
    buckets: [],
    edges: [],
    recentValues: [],
    values: [],
  };
  const totalWindows = [...new Set(terms.filter((t) => TOTALS.has(t.agg)).map((t) => t.windowMs))];
  const seenFields = new Set(terms.filter((t) => t.field).map((t) => t.field!));
  const distinctWidest = new Map<AggField, number>();
  for (const t of terms)
    if (t.agg === "count_distinct" && t.field)
      distinctWidest.set(t.field, Math.max(distinctWidest.get(t.field) ?? 0, t.windowMs));
  for (const [userId, txs] of byUser) {
    if (!withState(userId)) continue;
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    for (const v of txs) {
      first = Math.min(first, v.receivedMs);
      last = Math.max(last, v.receivedMs);
    }
    const ranges = new Map<Grain, Array<[number, number]>>(GRAINS.map((g) => [g, []]));
    const edges: Array<[number, number]> = [];
    for (const w of totalWindows) {
      const lo = first - w;
      const hi = last - w;
      edges.push([lo, (Math.floor(hi / MINUTE) + 1) * MINUTE]);
      ranges.get(60)!.push([Math.floor(lo / MINUTE) + 1, (Math.floor(hi / HOUR) + 1) * 60 - 1]);
      ranges.get(3600)!.push([Math.floor(lo / HOUR) + 1, (Math.floor(hi / DAY) + 1) * 24 - 1]);
      ranges.get(86400)!.push([Math.floor(lo / DAY) + 1, Number.MAX_SAFE_INTEGER]);
    }
    for (const [grain, list] of ranges)
      for (const [lo, hi] of merge(list)) request.buckets.push({ userId, grain, lo, hi });
    for (const [fromMs, toMs] of merge(edges)) request.edges.push({ userId, fromMs, toMs });
    for (const [field, w] of distinctWidest) request.recentValues.push({ userId, field, fromMs: first - w });
    for (const field of seenFields) {
      const mine = new Set(txs.map((v) => v.tx[field]).filter((x): x is string => x !== undefined));
      for (const value of mine) request.values.push({ userId, field, value });
    }
  }
  return request;
}

/**
 * Whether the state of a user stands for its earlier transactions when deciding `txs` (its fresh
 * transactions of a round): it has state, and every stored one was read from the same partition at
 * a lower offset.
 */
export function eligible(state: StoredState | undefined, txs: readonly Transaction[]): boolean {
  const p = state?.position;
  if (!p?.ready || p.mixed) return false;
  return txs.every((v) => v.partition === p.partition && v.offset > p.maxOffset);
}

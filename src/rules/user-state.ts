import { toMinorUnits } from "../domain/money.ts";
import { getOrSet } from "../maps.ts";
import {
  addTotal,
  type CurrencyTotal,
  DISTINCT_CAP,
  type RuleHistory,
  type RuleHistoryEntry,
  type WindowTotals,
} from "./history.ts";
import type { AggField, AggregateTerm } from "./rule-language.ts";

/*
 * A user's earlier transactions as per-user state (issue 21), answering the aggregates exactly as
 * the rows would (src/rules/history.ts) while reading a bounded number of rows, whatever the
 * history:
 *
 *  - count, sum, avg over (from, ∞): the rows of from's own UTC minute after from ("edge" rows),
 *    then whole minutes to the end of from's hour, whole hours to the end of its day, whole days
 *    after — at most ~60 + 24 + window-days bucket rows and one minute of rows per window;
 *  - first_seen: the last time the value was seen (one row);
 *  - count_distinct: the values seen in the window, the DISTINCT_CAP most recent at most.
 *
 * The state stands for "every earlier transaction of the topic" only when every stored transaction
 * of the user is earlier than the ones being decided: `eligible` checks it from where they were
 * read; for the others a round reads rows as before.
 */

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
export const GRAINS = [60, 3600, 86400] as const;
export type Grain = (typeof GRAINS)[number];

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

/** What the store answers, per user. */
export type StoredState = {
  position?: {
    partition: number;
    maxOffset: number;
    mixed: boolean;
    /** Stored transactions of the user. */
    count: number;
    /** Whether the user has state (buckets and values); without, its rows are read. */
    ready: boolean;
  };
  buckets: Array<{ grain: Grain; bucket: number; currency: string; n: number; total: string }>;
  edges: Array<{ receivedMs: number; currency: string; amount: string }>;
  /**
   * Last-seen times: of the round's own values, and the DISTINCT_CAP most recent of each field a
   * count_distinct reads. A value left out of a cut list was seen before all DISTINCT_CAP of it,
   * so a window that would count it counts DISTINCT_CAP values already.
   */
  values: Array<{ field: AggField; value: string; lastMs: number }>;
};

export const emptyStoredState = (): StoredState => ({
  buckets: [],
  edges: [],
  values: [],
});

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

type Row = { ms: number; currency: string; units: bigint };

/** The number of entries of a descending array greater than `x` (binary search). */
function countAbove(desc: readonly number[], x: number): number {
  let lo = 0;
  let hi = desc.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (desc[mid]! > x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A user's state as a RuleHistory: what was stored (read-only, its range sums memoised, since the
 * transactions of a round share their windows' buckets) and what this round decided before (`apply`,
 * kept as rows: a round is short).
 */
export class UserState implements RuleHistory {
  readonly #edges: Row[] = [];
  readonly #buckets = new Map<Grain, Array<{ index: number; totals: Map<string, CurrencyTotal> }>>();
  readonly #sums = new Map<string, WindowTotals>();
  readonly #last = new Map<AggField, Map<string, number>>();
  readonly #lastDesc = new Map<AggField, number[]>();
  readonly #round: Array<Row & Partial<Record<AggField, string>>> = [];

  constructor(stored: StoredState) {
    for (const e of stored.edges)
      this.#edges.push({ ms: e.receivedMs, currency: e.currency, units: toMinorUnits(e.amount, e.currency) });
    const byGrain = new Map<Grain, Map<number, Map<string, CurrencyTotal>>>();
    for (const b of stored.buckets) {
      const grain = getOrSet(byGrain, b.grain, () => new Map<number, Map<string, CurrencyTotal>>());
      addTotal(
        getOrSet(grain, b.bucket, () => new Map()),
        b.currency,
        b.n,
        toMinorUnits(b.total, b.currency),
      );
    }
    for (const g of GRAINS)
      this.#buckets.set(
        g,
        [...(byGrain.get(g) ?? [])].map(([index, totals]) => ({ index, totals })),
      );
    for (const v of stored.values) {
      const values = getOrSet(this.#last, v.field, () => new Map<string, number>());
      values.set(v.value, Math.max(values.get(v.value) ?? v.lastMs, v.lastMs));
    }
    for (const [field, values] of this.#last)
      this.#lastDesc.set(
        field,
        [...values.values()].sort((a, b) => b - a),
      );
  }

  /** Adds a transaction of this round (decided, so earlier than the next ones of the user). */
  apply(h: RuleHistoryEntry): void {
    this.#round.push({ ...h, ms: h.receivedMs, units: toMinorUnits(h.amount, h.currency) });
  }

  /** Stored buckets of `grain` with lo < index < hi, summed once per range. */
  #range(grain: Grain, lo: number, hi: number): WindowTotals {
    const key = `${grain}:${lo}:${hi}`;
    return getOrSet(this.#sums, key, () => {
      const byCurrency = new Map<string, CurrencyTotal>();
      let n = 0;
      for (const { index, totals } of this.#buckets.get(grain)!) {
        if (index <= lo || index >= hi) continue;
        for (const [currency, t] of totals) {
          n += t.n;
          addTotal(byCurrency, currency, t.n, t.units);
        }
      }
      return { n, byCurrency };
    });
  }

  totals(fromMs: number): WindowTotals {
    const minute = Math.floor(fromMs / MINUTE);
    const hour = Math.floor(fromMs / HOUR);
    const day = Math.floor(fromMs / DAY);
    const byCurrency = new Map<string, CurrencyTotal>();
    let n = 0;
    const add = (currency: string, count: number, units: bigint) => {
      n += count;
      addTotal(byCurrency, currency, count, units);
    };
    for (const e of this.#edges)
      if (e.ms > fromMs && Math.floor(e.ms / MINUTE) === minute) add(e.currency, 1, e.units);
    for (const part of [
      this.#range(60, minute, (hour + 1) * 60),
      this.#range(3600, hour, (day + 1) * 24),
      this.#range(86400, day, Number.POSITIVE_INFINITY),
    ])
      for (const [currency, t] of part.byCurrency) add(currency, t.n, t.units);
    for (const e of this.#round) if (e.ms > fromMs) add(e.currency, 1, e.units);
    return { n, byCurrency };
  }

  distinctCount(field: AggField, fromMs: number): number {
    const stored = this.#last.get(field);
    let count = countAbove(this.#lastDesc.get(field) ?? [], fromMs);
    const counted = new Set<string>();
    for (const e of this.#round) {
      const v = e[field];
      if (v === undefined || e.ms <= fromMs || counted.has(v)) continue;
      counted.add(v);
      if (!((stored?.get(v) ?? Number.NEGATIVE_INFINITY) > fromMs)) count++;
    }
    return Math.min(count, DISTINCT_CAP);
  }

  seen(field: AggField, value: string, fromMs: number): boolean {
    if ((this.#last.get(field)?.get(value) ?? Number.NEGATIVE_INFINITY) > fromMs) return true;
    return this.#round.some((e) => e.ms > fromMs && e[field] === value);
  }
}

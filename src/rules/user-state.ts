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
import type { AggField } from "./rule-language.ts";

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

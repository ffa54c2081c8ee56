import { toMinorUnits } from "../domain/money.ts";
import { type AggField, DISTINCT_CAP } from "./rule-language.ts";

export { DISTINCT_CAP };

/*
 * What the aggregates ask of a user's earlier transactions (issue 21). Two implementations answer
 * exactly alike: `rowHistory` from the rows themselves (tests, the rules bench, replay --redecide)
 * and the consumer's per-user state (src/consumer/user-state.ts: time buckets, last-seen values),
 * whose cost does not grow with the history. Every question is about the earlier transactions
 * received strictly after `fromMs` (a window's start), with no upper bound.
 */

/** An earlier transaction of the same user, in topic order; counted once per id by the caller. */
export type RuleHistoryEntry = {
  transactionId: string;
  amount: string;
  currency: string;
  receivedMs: number;
} & Partial<Record<AggField, string>>;

/** Number and total (in the currency's minor units) of the transactions in one currency. */
export type CurrencyTotal = { n: number; units: bigint };

export type WindowTotals = { n: number; byCurrency: ReadonlyMap<string, CurrencyTotal> };

export interface RuleHistory {
  /** How many earlier transactions were received after `fromMs`, and their totals per currency. */
  totals(fromMs: number): WindowTotals;
  /** How many distinct values of `field` they carry, at most DISTINCT_CAP. */
  distinctCount(field: AggField, fromMs: number): number;
  /** Whether one of them carries `value` in `field`. */
  seen(field: AggField, value: string, fromMs: number): boolean;
}

/** Adds one transaction to per-currency totals. */
export function addTotal(
  totals: Map<string, CurrencyTotal>,
  currency: string,
  n: number,
  units: bigint,
): void {
  const t = totals.get(currency);
  if (t) {
    t.n += n;
    t.units += units;
  } else {
    totals.set(currency, { n, units });
  }
}

/**
 * The history as a list of rows: a walk of the list per question. `parsed` lets a caller that
 * keeps a sliding window (the model's trainer) hand over the amounts already in minor units and
 * where its window starts, instead of a copy.
 */
export function rowHistory(
  entries: readonly RuleHistoryEntry[],
  parsed?: { units: readonly bigint[]; from: number },
): RuleHistory {
  // Each amount parsed once, on the first question that sums, and each answer kept: a transaction's
  // rules and its model's features ask several, often the same.
  const first = parsed?.from ?? 0;
  let units = parsed?.units;
  const totals = new Map<number, WindowTotals>();
  const distinct = new Map<string, number>();
  return {
    totals(fromMs) {
      const known = totals.get(fromMs);
      if (known) return known;
      units ??= entries.map((h) => toMinorUnits(h.amount, h.currency));
      const byCurrency = new Map<string, CurrencyTotal>();
      let n = 0;
      for (let i = first; i < entries.length; i++) {
        const h = entries[i]!;
        if (h.receivedMs <= fromMs) continue;
        n++;
        addTotal(byCurrency, h.currency, 1, units[i]!);
      }
      const answer = { n, byCurrency };
      totals.set(fromMs, answer);
      return answer;
    },
    distinctCount(field, fromMs) {
      const key = `${field}:${fromMs}`;
      const known = distinct.get(key);
      if (known !== undefined) return known;
      const values = new Set<string>();
      for (let i = first; i < entries.length; i++) {
        const h = entries[i]!;
        const v = h[field];
        if (v !== undefined && h.receivedMs > fromMs) values.add(v);
      }
      const answer = Math.min(values.size, DISTINCT_CAP);
      distinct.set(key, answer);
      return answer;
    },
    seen(field, value, fromMs) {
      for (let i = first; i < entries.length; i++) {
        const h = entries[i]!;
        if (h.receivedMs > fromMs && h[field] === value) return true;
      }
      return false;
    },
  };
}

/** What the rules see of a transaction. `receivedMs` (its Kafka timestamp) is the windows' clock. */
export type RuleTransaction = {
  transactionId: string;
  /** Whose it is (snoozes name users: issue 37). */
  userId?: string;
  amount: string;
  currency: string;
  receivedMs: number;
  /** Its entity features (src/model/entity-features.ts), when the scorer or trainer computed them. */
  entities?: ArrayLike<number>;
} & Partial<Record<AggField | "merchant_category", string>>;

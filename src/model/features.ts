import { minorUnits } from "../domain/iso4217.ts";
import { minorUnitsIn, unitsIn } from "../domain/money.ts";
import type { Profile } from "../domain/profile.ts";
import type { RuleHistory, RuleTransaction } from "../rules/history.ts";
import type { AggField, AggregateTerm } from "../rules/rule-language.ts";
import { ENTITY_FEATURES } from "./entity-features.ts";

/*
 * The features a learned model sees (issue 24): numbers computed from the transaction, its
 * profile and the user's earlier transactions — through the same RuleHistory questions the rules'
 * aggregates ask, so the scorer answers them from its per-user state at no extra cost in rows, and
 * the trainer from rows, alike. One definition, used by training and scoring: a model is only as
 * good as the agreement of the two.
 *
 * The entity features (other users seen on the merchant or device lately) are given with the
 * transaction (`tx.entities`): the scorer reads them from Redis, the trainer from rows; absent, 0.
 *
 * Amounts are floats here (a model's input, never money that is stored or compared exactly).
 */

const MINUTE_S = 60;
const HOUR_S = 3_600;
const DAY_S = 86_400;
const MONTH_S = 30 * DAY_S;

export const FEATURES = [
  "amount_log",
  "amount_vs_user_avg",
  "amount_vs_limit",
  "history_30d",
  "new_device",
  "new_country",
  "new_merchant",
  "new_category",
  "foreign_country",
  "count_10m",
  "count_1h",
  "merchants_10m",
  "countries_1h",
  "devices_24h",
  "spend_24h_vs_avg",
  "hour_of_day",
  "merchant_category",
  "ecommerce",
  "no_profile",
  // Other users (issue 36 §2; src/model/entity-features.ts): last, so older models are a prefix.
  ...ENTITY_FEATURES.map((f) => f.name),
] as const;
export type FeatureName = (typeof FEATURES)[number];

/** The aggregates the features read (added to the rule set's, so a round loads what they need). */
export const FEATURE_TERMS: readonly AggregateTerm[] = [
  { agg: "count", windowMs: MONTH_S * 1000 },
  { agg: "count", windowMs: DAY_S * 1000 },
  { agg: "count", windowMs: HOUR_S * 1000 },
  { agg: "count", windowMs: 10 * MINUTE_S * 1000 },
  ...(["device_id", "country", "merchant_id", "merchant_category"] as const).map((field) => ({
    agg: "first_seen" as const,
    windowMs: MONTH_S * 1000,
    field,
  })),
  { agg: "count_distinct", windowMs: 10 * MINUTE_S * 1000, field: "merchant_id" },
  { agg: "count_distinct", windowMs: HOUR_S * 1000, field: "country" },
  { agg: "count_distinct", windowMs: DAY_S * 1000, field: "device_id" },
];

/** How far back the features look (the widest window above), ms. */
export const FEATURE_WINDOW_MS = MONTH_S * 1000;

type Money = { inProfile(units: bigint, currency: string): number | undefined; scale: number };

/**
 * The earlier transactions after `fromMs`: how many (`all`), and the count and total of those in
 * the profile's (or the transaction's) currency or convertible to it.
 */
function spent(
  history: RuleHistory,
  fromMs: number,
  money: Money,
): { all: number; n: number; total: number } {
  const t = history.totals(fromMs);
  let total = 0;
  let n = 0;
  for (const [currency, c] of t.byCurrency) {
    const v = money.inProfile(c.units, currency);
    if (v === undefined) continue;
    total += v;
    n += c.n;
  }
  return { all: t.n, n, total };
}

/** Distinct values of `field` in the window, this transaction's own value included. */
function distinct(history: RuleHistory, tx: RuleTransaction, field: AggField, fromMs: number): number {
  const own = tx[field];
  return (
    history.distinctCount(field, fromMs) + (own !== undefined && !history.seen(field, own, fromMs) ? 1 : 0)
  );
}

const isNew = (history: RuleHistory, tx: RuleTransaction, field: AggField, fromMs: number) => {
  const own = tx[field];
  return own !== undefined && !history.seen(field, own, fromMs) ? 1 : 0;
};

/**
 * The feature vector of one transaction, written into `out` (FEATURES order). Total: every input
 * has a value (a missing field reads as "not new", an unconvertible amount in its own currency).
 */
export function computeFeatures(
  tx: RuleTransaction,
  profile: Profile | null,
  history: RuleHistory,
  fxRates: Readonly<Record<string, string>>,
  out: Float64Array,
): Float64Array {
  const target = profile?.currency ?? tx.currency;
  const scale = 10 ** (minorUnits(target) ?? 2);
  const money: Money = {
    scale,
    inProfile: (units, currency) => {
      const v = unitsIn(fxRates, units, currency, target);
      return v === undefined ? undefined : Number(v) / scale;
    },
  };
  const converted = minorUnitsIn(fxRates, tx.amount, tx.currency, target);
  const amount = converted === undefined ? Number(tx.amount) : Number(converted) / scale;
  const at = tx.receivedMs;
  const month = spent(history, at - MONTH_S * 1000, money);
  const day = spent(history, at - DAY_S * 1000, money);
  const avg = month.n > 0 ? month.total / month.n : 0;
  const limit = profile ? Number(profile.per_transaction_limit) : 0;
  const mcc = tx.merchant_category === undefined ? -1 : Number.parseInt(tx.merchant_category, 10);
  let i = 0;
  out[i++] = Math.log1p(amount);
  out[i++] = month.n > 0 ? Math.log((amount + 1) / (avg + 1)) : 0;
  out[i++] = limit > 0 ? amount / limit : 0;
  out[i++] = Math.log1p(month.all);
  out[i++] = isNew(history, tx, "device_id", at - MONTH_S * 1000);
  out[i++] = isNew(history, tx, "country", at - MONTH_S * 1000);
  out[i++] = isNew(history, tx, "merchant_id", at - MONTH_S * 1000);
  out[i++] = isNew(history, tx, "merchant_category", at - MONTH_S * 1000);
  out[i++] = profile && tx.country !== undefined && tx.country !== profile.home_country ? 1 : 0;
  out[i++] = history.totals(at - 10 * MINUTE_S * 1000).n;
  out[i++] = history.totals(at - HOUR_S * 1000).n;
  out[i++] = distinct(history, tx, "merchant_id", at - 10 * MINUTE_S * 1000);
  out[i++] = distinct(history, tx, "country", at - HOUR_S * 1000);
  out[i++] = distinct(history, tx, "device_id", at - DAY_S * 1000);
  out[i++] = month.n > 0 ? Math.log((day.total + amount + 1) / (avg + 1)) : 0;
  out[i++] = Math.floor((((at % 86_400_000) + 86_400_000) % 86_400_000) / 3_600_000); // the UTC hour
  out[i++] = Number.isFinite(mcc) ? mcc : -1;
  out[i++] = tx.channel === "ecommerce" ? 1 : 0;
  out[i++] = profile ? 0 : 1;
  for (let e = 0; e < ENTITY_FEATURES.length; e++) out[i++] = tx.entities?.[e] ?? 0;
  return out;
}

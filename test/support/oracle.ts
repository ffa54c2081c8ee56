/*
 * An independent oracle for the scoring consumer: the rules as README.md states them, written
 * again from scratch (no import from src/rules or src/domain/money), applied to the transactions
 * in topic order. Integration tests compare every stored decision with what this computes.
 */

import type { ReadMessage } from "./topics.ts";

export type OracleProfile = {
  status: string;
  risk_tier: string;
  home_country: string;
  currency: string;
  per_transaction_limit: string;
  daily_limit: string;
};
export type OracleTx = {
  transaction_id: string;
  user_id: string;
  amount: string;
  currency: string;
  timestamp: string;
  country?: string;
  /** The message's Kafka timestamp (the windows' clock); the tests set it from the topic. */
  receivedMs?: number;
};
export type OracleDecision = { decision: string; score: number; reasons: string[] };

const DIGITS: Record<string, number> = {
  USD: 2,
  EUR: 2,
  GBP: 2,
  CAD: 2,
  AUD: 2,
  BRL: 2,
  INR: 2,
  MXN: 2,
  CHF: 2,
  JPY: 0,
};
const WEIGHT: Record<string, [number, string | null]> = {
  user_blocked: [100, "decline"],
  over_transaction_limit: [90, "decline"],
  over_daily_limit: [85, "decline"],
  velocity: [50, "review"],
  unknown_user: [50, "review"],
  high_risk_large_amount: [40, "review"],
  currency_unconvertible: [30, "review"],
  foreign_country: [25, null],
};
const RANK = ["approve", "review", "decline"];

/** "12.5" in a currency with d digits → integer of 10^-d units (inputs never exceed d digits here). */
function units(amount: string, digits: number): bigint {
  const [int, frac = ""] = amount.split(".");
  return BigInt(int! + frac.padEnd(digits, "0").slice(0, digits));
}

export type OracleSettings = {
  velocityMax: number;
  highRiskAmount: string;
  reviewAt: number;
  declineAt: number;
  /** "EUR:USD" → rate as a decimal string */
  fx: Record<string, string>;
};

/** The settings of the default configuration (README, The rules), without FX rates. */
export const DEFAULT_SETTINGS: OracleSettings = {
  velocityMax: 5,
  highRiskAmount: "1000",
  reviewAt: 50,
  declineAt: 80,
  fx: {},
};

function inProfileCurrency(s: OracleSettings, amount: string, from: string, to: string): bigint | null {
  if (from === to) return units(amount, DIGITS[to]!);
  const rate = s.fx[`${from}:${to}`];
  if (!rate) return null;
  // amount × rate, exactly, then rounded half-up to the target's digits
  const [ri, rf = ""] = rate.split(".");
  const rateUnits = BigInt(ri! + rf);
  const raw = units(amount, DIGITS[from]!) * rateUnits; // scale: DIGITS[from] + rf.length
  const scale = DIGITS[from]! + rf.length - DIGITS[to]!;
  const div = 10n ** BigInt(scale);
  return (raw + div / 2n) / div;
}

export function oracleDecide(
  s: OracleSettings,
  tx: OracleTx,
  profile: OracleProfile | undefined,
  earlier: readonly OracleTx[],
): OracleDecision {
  // The windows run on Kafka timestamps, and every earlier transaction of the topic counts if it
  // was received inside the window — even when its clock reads later than this one's.
  const clock = (x: OracleTx) => x.receivedMs ?? Date.parse(x.timestamp);
  const t = clock(tx);
  const reasons: string[] = [];
  const inWindow = (h: OracleTx, ms: number) => clock(h) > t - ms;
  if (earlier.filter((h) => inWindow(h, 60_000)).length + 1 > s.velocityMax) reasons.push("velocity");
  if (!profile) {
    reasons.push("unknown_user");
  } else {
    if (profile.status === "blocked") reasons.push("user_blocked");
    const amount = inProfileCurrency(s, tx.amount, tx.currency, profile.currency);
    const d = DIGITS[profile.currency]!;
    if (amount === null) {
      reasons.push("currency_unconvertible");
    } else {
      if (amount > units(profile.per_transaction_limit, d)) reasons.push("over_transaction_limit");
      let spent = 0n;
      for (const h of earlier) {
        if (inWindow(h, 24 * 3_600_000))
          spent += inProfileCurrency(s, h.amount, h.currency, profile.currency) ?? 0n;
      }
      if (spent + amount > units(profile.daily_limit, d)) reasons.push("over_daily_limit");
      if (profile.risk_tier === "high" && amount >= units(s.highRiskAmount, d))
        reasons.push("high_risk_large_amount");
    }
    if (tx.country !== undefined && tx.country !== profile.home_country) reasons.push("foreign_country");
  }
  const score = Math.min(
    100,
    reasons.reduce((sum, r) => sum + WEIGHT[r]![0], 0),
  );
  let rank = score >= s.declineAt ? 2 : score >= s.reviewAt ? 1 : 0;
  for (const r of reasons) rank = Math.max(rank, RANK.indexOf(WEIGHT[r]![1] ?? "approve"));
  return { decision: RANK[rank]!, score, reasons: [...reasons].sort() };
}

/**
 * Decides every distinct transaction, given the messages in topic order within each partition
 * (a user's messages share a partition). A repeated transaction_id counts once, where it first came.
 */
export function oracleDecideAll(
  s: OracleSettings,
  messagesByPartition: ReadonlyMap<number, readonly OracleTx[]>,
  profiles: ReadonlyMap<string, OracleProfile>,
): Map<string, OracleDecision> {
  const out = new Map<string, OracleDecision>();
  for (const messages of messagesByPartition.values()) {
    const history = new Map<string, OracleTx[]>();
    for (const tx of messages) {
      if (out.has(tx.transaction_id)) continue;
      const earlier = history.get(tx.user_id) ?? [];
      out.set(tx.transaction_id, oracleDecide(s, tx, profiles.get(tx.user_id), earlier));
      history.set(tx.user_id, [...earlier, tx]);
    }
  }
  return out;
}

/**
 * The oracle's input from the messages of a transactions topic (as `readAll` gives them): per
 * partition, in offset order, each with its Kafka timestamp as `receivedMs` and its id in lower case
 * (a UUID in any case is one transaction). Messages that are not JSON or whose key is not their
 * user are poison, left out; `keep` can leave out more (what else the consumer dead-letters).
 */
export function oracleInputFromTopic(
  messages: readonly ReadMessage[],
  keep: (tx: OracleTx) => boolean = () => true,
): Map<number, OracleTx[]> {
  const byPartition = new Map<number, Array<{ offset: bigint; tx: OracleTx }>>();
  for (const m of messages) {
    let tx: OracleTx;
    try {
      tx = JSON.parse(m.value!.toString());
    } catch {
      continue;
    }
    if (typeof tx?.transaction_id !== "string" || m.key?.toString() !== tx.user_id || !keep(tx)) continue;
    const list = byPartition.get(m.partition) ?? [];
    list.push({
      offset: BigInt(m.offset),
      tx: { ...tx, transaction_id: tx.transaction_id.toLowerCase(), receivedMs: Number(m.timestamp) },
    });
    byPartition.set(m.partition, list);
  }
  return new Map(
    [...byPartition].map(([p, list]) => [
      p,
      list.sort((a, b) => (a.offset < b.offset ? -1 : 1)).map((x) => x.tx),
    ]),
  );
}

/** A stored decision (reasons in any order) equals the oracle's. */
export function sameDecision(
  oracle: OracleDecision | undefined,
  stored: { decision: string; score: number; reasons: readonly string[] },
): boolean {
  return (
    oracle !== undefined &&
    oracle.decision === stored.decision &&
    oracle.score === stored.score &&
    oracle.reasons.join() === [...stored.reasons].sort().join()
  );
}

import type { DecisionOutcome } from "../domain/decision.ts";
import { minorUnits } from "../domain/iso4217.ts";
import { minorUnitsIn, toMinorUnits, unitsIn } from "../domain/money.ts";
import type { Profile } from "../domain/profile.ts";
import { ENTITY_FEATURES } from "../model/entity-features.ts";
import { computeFeatures, FEATURES } from "../model/features.ts";
import { modelReason, type ScoringModel } from "../model/model.ts";
import { arithmetic, compare, dec, literalDecs, numberLiteral, type Value } from "./decimal-values.ts";
import {
  DISTINCT_CAP,
  type RuleHistory,
  type RuleHistoryEntry,
  type RuleTransaction,
  rowHistory,
} from "./history.ts";
import { aggField, type Expr, type FieldName, type Rule, type RuleSet } from "./rule-language.ts";
import { readsModel } from "./rule-set-refs.ts";

export type { RuleHistoryEntry, RuleTransaction } from "./history.ts";

/*
 * Evaluates a rule set (rule-language.ts) for one transaction: a pure, total function of (rule set, the
 * transaction, its profile, its earlier transactions, FX rates, named lists). Every expression has a
 * value — a wrong type or a missing operand is null, and a comparison with null is false — so no
 * document that validates can throw here. Money is exact: decimals are (units, scale) bigints.
 */

/** A rule silenced for an entity: when it holds (ms), who set it (issue 37; snooze-store.ts). */
export type ActiveSnooze = { rule: string; fromMs: number; untilMs: number; by: string };
/** Active snoozes by `<kind>:<id>` (user:u1, device:d1, merchant:m1). */
export type SnoozeMap = ReadonlyMap<string, readonly ActiveSnooze[]>;

export type RuleContext = {
  fxRates: Readonly<Record<string, string>>;
  /** Each list's values, with when each stops matching (ms since the epoch; Infinity: never). */
  lists: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** The active model (`model.score`); without one, model.score is null. */
  model?: ScoringModel;
  /** Rules silenced per entity (`user:<id>`, `device:<id>`, `merchant:<id>`: issue 37). */
  snoozes?: SnoozeMap;
};

/** The rules that fire, their scores and floors; a snoozed rule adds nothing, and says so (never silent). */
function tally(
  ruleSet: RuleSet,
  fires: (rule: Rule) => boolean,
  snoozed: (rule: Rule) => ActiveSnooze | undefined,
): { reasons: string[]; score: number; floor: number; modelFired: boolean } {
  const reasons: string[] = [];
  let score = 0;
  let floor = 0;
  let modelFired = false;
  for (const rule of ruleSet.rules) {
    if (!fires(rule)) continue;
    const snooze = snoozed(rule);
    if (snooze) {
      reasons.push(`snoozed: ${rule.id} (until ${new Date(snooze.untilMs).toISOString()}, by ${snooze.by})`);
      continue;
    }
    reasons.push(rule.id);
    modelFired ||= ruleReadsModel(rule);
    score += rule.score;
    if (rule.at_least) floor = Math.max(floor, RANK[rule.at_least]);
  }
  return { reasons, score, floor, modelFired };
}

/** The snooze that silences `rule` for this transaction at its own time, if one does. */
function snoozeOf(
  snoozes: SnoozeMap | undefined,
  tx: RuleTransaction,
  rule: string,
): ActiveSnooze | undefined {
  if (!snoozes || snoozes.size === 0) return undefined;
  for (const key of [`user:${tx.userId}`, `device:${tx.device_id}`, `merchant:${tx.merchant_id}`]) {
    const hit = snoozes
      .get(key)
      ?.find((s) => s.rule === rule && s.fromMs <= tx.receivedMs && tx.receivedMs < s.untilMs);
    if (hit) return hit;
  }
  return undefined;
}

const modelRules = new WeakMap<Rule, boolean>();
/** Whether a rule reads model.score (memoised per rule object: a rule set is immutable). */
function ruleReadsModel(rule: Rule): boolean {
  let r = modelRules.get(rule);
  if (r === undefined) {
    r = readsModel(rule.when);
    modelRules.set(rule, r);
  }
  return r;
}

/**
 * The model's score of one transaction, computed at most once and only when a rule asks for it,
 * and the reason that explains it once it was computed.
 */
function lazyModelScore(
  tx: RuleTransaction,
  profile: Profile | null,
  history: RuleHistory,
  model: ScoringModel,
  fxRates: RuleContext["fxRates"],
) {
  let scored: { p: number; x: Float64Array } | undefined;
  return {
    value(): Value {
      if (!scored) {
        const x = computeFeatures(tx, profile, history, fxRates, new Float64Array(FEATURES.length));
        scored = { p: model.score(x), x };
      }
      return { units: BigInt(Math.round(scored.p * 10_000)), scale: 4 };
    },
    reason(): string | undefined {
      return scored ? modelReason(model.version, scored.p, model.explain(scored.x)) : undefined;
    },
  };
}

const ENTITY_INDEX = new Map<string, number>(ENTITY_FEATURES.map((f, i) => [`entity.${f.name}`, i]));

/** An entity feature of the transaction (a count), null when the scorer computed none. */
function entityField(tx: RuleTransaction, name: FieldName): Value {
  const v = tx.entities?.[ENTITY_INDEX.get(name) ?? -1];
  return v === undefined ? null : { units: BigInt(v), scale: 0 };
}

/** The active model's own review or decline level of model.score (4 decimals), null without. */
function modelLevel(model: ScoringModel | undefined, key: string): Value {
  const t = model?.thresholds;
  if (!t) return null;
  const v = key === "review_threshold" ? t.review : t.decline;
  return { units: BigInt(Math.round(v * 10_000)), scale: 4 };
}

export type RuleVerdict = { decision: DecisionOutcome; score: number; reasons: string[] };

const RANK: Record<DecisionOutcome, number> = { approve: 0, review: 1, decline: 2 };
const OUTCOMES: DecisionOutcome[] = ["approve", "review", "decline"];

/**
 * An aggregate over the earlier transactions received after `fromMs` (`profileMoney`: amounts in
 * the profile's currency; null without a profile). Sums convert each currency's total once.
 */
function aggregate(
  e: Extract<Expr, { agg: unknown }>,
  history: RuleHistory,
  fromMs: number,
  tx: RuleTransaction,
  profileMoney: {
    money: (units: bigint | undefined) => Value;
    inProfile: (units: bigint, currency: string) => bigint | undefined;
  } | null,
): Value {
  switch (e.agg) {
    case "count":
      return { units: BigInt(history.totals(fromMs).n), scale: 0 };
    case "sum":
    case "avg": {
      if (!profileMoney) return null;
      let total = 0n;
      let n = 0n;
      for (const [currency, t] of history.totals(fromMs).byCurrency) {
        const u = profileMoney.inProfile(t.units, currency);
        if (u === undefined) continue; // flagged when it was decided; not counted here
        total += u;
        n += BigInt(t.n);
      }
      if (e.agg === "sum") return profileMoney.money(total);
      return n === 0n ? null : profileMoney.money((total * 2n + n) / (2n * n)); // half up
    }
    case "count_distinct": {
      const f = aggField(e)!;
      const mine = tx[f];
      const others = history.distinctCount(f, fromMs);
      const own = mine !== undefined && !history.seen(f, mine, fromMs) ? 1 : 0;
      return { units: BigInt(Math.min(DISTINCT_CAP, others + own)), scale: 0 };
    }
    case "first_seen": {
      const f = aggField(e)!;
      const mine = tx[f];
      if (mine === undefined) return false;
      return !history.seen(f, mine, fromMs);
    }
  }
}

/** Decides one transaction with `ruleSet`. */
export function evaluateRuleSet(
  ruleSet: RuleSet,
  tx: RuleTransaction,
  profile: Profile | null,
  earlier: readonly RuleHistoryEntry[] | RuleHistory,
  ctx: RuleContext,
): RuleVerdict {
  const history = Array.isArray(earlier) ? rowHistory(earlier) : (earlier as RuleHistory);
  const decOf = literalDecs(ruleSet); // the rule set's decimal literals, parsed once
  const scale = profile ? (minorUnits(profile.currency) ?? 2) : 0;
  const money = (units: bigint | undefined): Value => (units === undefined ? null : { units, scale });
  const inProfile = (amount: string, currency: string) =>
    profile ? minorUnitsIn(ctx.fxRates, amount, currency, profile.currency) : undefined;
  const unitsInProfile = (units: bigint, currency: string) =>
    profile ? unitsIn(ctx.fxRates, units, currency, profile.currency) : undefined;

  // Nothing per transaction for the model while none is active (the usual case).
  const modelScore = ctx.model ? lazyModelScore(tx, profile, history, ctx.model, ctx.fxRates) : undefined;

  function field(name: FieldName): Value {
    switch (name) {
      case "model.score":
        return modelScore?.value() ?? null;
      case "tx.amount":
        return dec(tx.amount);
      case "tx.currency":
        return tx.currency;
      case "profile":
        return profile ? profile.user_id : null;
      case "profile.per_transaction_limit":
        return profile ? money(toMinorUnits(profile.per_transaction_limit, profile.currency)) : null;
      case "profile.daily_limit":
        return profile ? money(toMinorUnits(profile.daily_limit, profile.currency)) : null;
      default: {
        const [scope, key] = name.split(".") as ["tx" | "profile" | "entity" | "model", string];
        if (scope === "entity") return entityField(tx, name);
        if (scope === "model") return modelLevel(ctx.model, key);
        const source = (scope === "tx" ? tx : profile) as Record<string, unknown> | null;
        const v = source?.[key];
        return typeof v === "string" ? v : null;
      }
    }
  }

  function value(e: Expr): Value {
    if (e === null || typeof e === "boolean" || typeof e === "string") return e;
    if (typeof e === "number") return numberLiteral(e);
    if ("money" in e)
      return profile ? money(toMinorUnits(e.money.replace(/^-/, ""), profile.currency)) : null;
    if ("agg" in e)
      return aggregate(
        e,
        history,
        tx.receivedMs - e.window_seconds * 1000,
        tx,
        profile ? { money, inProfile: unitsInProfile } : null,
      );
    if ("field" in e) return field(e.field);
    switch (e.op) {
      case "amount":
        return money(inProfile(tx.amount, tx.currency));
      case "and":
        return e.args.every((a) => value(a) === true);
      case "or":
        return e.args.some((a) => value(a) === true);
      case "not":
        return value(e.arg) === false;
      case "is_null":
        return value(e.arg) === null;
      case "in_list": {
        const v = value(e.arg);
        if (typeof v !== "string") return false;
        // An entry matches the transactions received before it expires (the rules' clock).
        const expires = ctx.lists.get(e.list)?.get(v);
        return expires !== undefined && tx.receivedMs < expires;
      }
      case "+":
      case "-":
      case "*":
        return arithmetic(e.op, value(e.args[0]!), value(e.args[1]!), decOf);
      default:
        return compare(e.op, value(e.args[0]!), value(e.args[1]!), decOf);
    }
  }

  const {
    reasons,
    score: sum,
    floor,
    modelFired,
  } = tally(
    ruleSet,
    (rule) => value(rule.when) === true,
    (rule) => snoozeOf(ctx.snoozes, tx, rule.id),
  );
  // A decision the model influenced says which model, how sure, and why (issue 24).
  const explained = modelFired ? modelScore?.reason() : undefined;
  if (explained) reasons.push(explained);
  const score = Math.min(100, sum);
  const byScore = score >= ruleSet.thresholds.decline ? 2 : score >= ruleSet.thresholds.review ? 1 : 0;
  return { decision: OUTCOMES[Math.max(byScore, floor)]!, score, reasons };
}

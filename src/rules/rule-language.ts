import { z } from "zod";
import { contentAddress } from "../artefacts/content-address.ts";
import { DECISIONS } from "../domain/decision.ts";
import { findPans } from "../domain/pan.ts";

/** count_distinct counts at most this many distinct values in a window (docs/rules.md#aggregates). */
export const DISTINCT_CAP = 1_000;

/*
 * A rule set is data (issue 13): a JSON document validated here, published as
 * schemas/ruleset.v1.json. `when` is an expression tree — never code, never eval:
 *
 *   literal        12, "US", true, null, {"money": "1000"} (in the profile's currency)
 *   field          {"field": "tx.amount" | "tx.currency" | "tx.country" | "tx.merchant_id" |
 *                   "tx.merchant_category" | "tx.channel" | "tx.device_id" | "tx.ip" |
 *                   "profile" | "profile.status" | "profile.risk_tier" | "profile.home_country" |
 *                   "profile.currency" | "profile.per_transaction_limit" | "profile.daily_limit" |
 *                   "model.score"}  (the active model's probability of fraud, 0–1 to 4 decimals;
 *                   null while no model is active — docs/detection.md#the-learned-score) |
 *                   "model.review_threshold" | "model.decline_threshold" (the active model's own
 *                   levels, from its held-out days; null without) |
 *                   "entity.merchant_users_48h" | "entity.device_users_24h" (other users seen on
 *                   the merchant in 48 h, on the device in 24 h, at most 32; null when unknown)
 *   money          {"op": "amount"}: the transaction's amount in the profile's currency (FX_RATES),
 *                   null when it cannot be converted or there is no profile
 *   compare        {"op": "==" | "!=" | "<" | "<=" | ">" | ">=", "args": [a, b]}  (null: false)
 *   logic          {"op": "and" | "or", "args": [...]}, {"op": "not", "arg": x}, {"op": "is_null", "arg": x}
 *   arithmetic     {"op": "+" | "-" | "*", "args": [a, b]}: exact decimals (money never floats)
 *   lists          {"op": "in_list", "arg": x, "list": "blocked_devices"}
 *   aggregates     {"agg": "count" | "sum" | "avg" | "count_distinct" | "first_seen",
 *                   "window_seconds": N, "field"?: "country" | "device_id" | "merchant_id" | ...}
 *                  over the user's earlier transactions (topic order) received within the window;
 *                  sum and avg convert each currency's total to the profile's currency once;
 *                  count_distinct counts at most 1,000; first_seen is true when no earlier
 *                  transaction in the window had this transaction's value of `field`
 *                  (docs/rules.md#aggregates; a set's aggregates have a cost budget).
 */

export const RULESET_FORMAT = 1;

const FIELD_NAMES = [
  "tx.amount",
  "tx.currency",
  "tx.country",
  "tx.merchant_id",
  "tx.merchant_category",
  "tx.channel",
  "tx.device_id",
  "tx.ip",
  "profile",
  "profile.status",
  "profile.risk_tier",
  "profile.home_country",
  "profile.currency",
  "profile.per_transaction_limit",
  "profile.daily_limit",
  "model.score",
  // The active model's own levels of model.score (its held-out days: flagging 3 and 1 per 1,000);
  // null without a model or for a model trained without held-out days.
  "model.review_threshold",
  "model.decline_threshold",
  // Other users seen on the transaction's merchant and device lately (issue 36 §2); null when the
  // scorer has no value for it (docs/detection.md#beyond-one-users-history).
  "entity.merchant_users_48h",
  "entity.device_users_24h",
] as const;
export type FieldName = (typeof FIELD_NAMES)[number];

export const AGG_FIELDS = [
  "country",
  "device_id",
  "merchant_id",
  "merchant_category",
  "channel",
  "ip",
  "currency",
] as const;
export type AggField = (typeof AGG_FIELDS)[number];

const decimal = z.string().regex(/^-?\d{1,18}(\.\d{1,8})?$/, 'must be a decimal string such as "1000.00"');

export type Expr =
  | number
  | string
  | boolean
  | null
  | { money: string }
  | { field: FieldName }
  | { op: "amount" }
  | { op: "==" | "!=" | "<" | "<=" | ">" | ">=" | "+" | "-" | "*" | "and" | "or"; args: Expr[] }
  | { op: "not" | "is_null"; arg: Expr }
  | { op: "in_list"; arg: Expr; list: string }
  | {
      agg: "count" | "sum" | "avg" | "count_distinct" | "first_seen";
      window_seconds: number;
      field?: AggField;
    };

/**
 * Literals have bounds (issue 35): no field a rule compares is longer than 256 characters, and a
 * number — or a string that reads as one — has at most 18 integer and 8 fraction digits, like the
 * amounts it is compared with (a literal of thousands of digits made every comparison work).
 */
export const MAX_STRING_LITERAL = 256;
const numberLike = (text: string) => {
  const m = /^-?(\d+)(?:\.(\d+))?$/.exec(text);
  return !m || (m[1]!.length <= 18 && (m[2]?.length ?? 0) <= 8);
};
const NumberLiteral = z
  .number()
  .refine(Number.isFinite, "must be a finite number")
  .refine((n) => Math.abs(n) < 1e18 && numberLike(String(n)), "at most 18 integer and 8 fraction digits");
const StringLiteral = z
  .string()
  .max(MAX_STRING_LITERAL, `at most ${MAX_STRING_LITERAL} characters`)
  .refine(numberLike, "a number as a string has at most 18 integer and 8 fraction digits");

export const ExprSchema: z.ZodType<Expr> = z.lazy(() =>
  z.union([
    NumberLiteral,
    StringLiteral,
    z.boolean(),
    z.null(),
    z.strictObject({ money: decimal }),
    z.strictObject({ field: z.enum(FIELD_NAMES, `must be one of ${FIELD_NAMES.join(", ")}`) }),
    z.strictObject({ op: z.literal("amount") }),
    z.strictObject({
      op: z.enum(["==", "!=", "<", "<=", ">", ">=", "+", "-", "*"]),
      args: z.array(ExprSchema).length(2, "takes exactly 2 arguments"),
    }),
    z.strictObject({ op: z.enum(["and", "or"]), args: z.array(ExprSchema).min(1) }),
    z.strictObject({ op: z.enum(["not", "is_null"]), arg: ExprSchema }),
    z.strictObject({
      op: z.literal("in_list"),
      arg: ExprSchema,
      list: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "must be a list name such as blocked_devices"),
    }),
    z.strictObject({
      agg: z.enum(["count", "sum", "avg", "count_distinct", "first_seen"]),
      window_seconds: z
        .int()
        .min(1)
        .max(366 * 86_400),
      field: z.enum(AGG_FIELDS).optional(),
    }),
  ]),
);

export const RuleSchema = z.strictObject({
  id: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "must be snake_case, such as over_daily_limit"),
  description: z.string().min(1).max(500),
  when: ExprSchema,
  score: z.int().min(0).max(100),
  at_least: z.enum(DECISIONS).optional(),
});

export const RuleSetSchema = z
  .strictObject({
    format: z.literal(RULESET_FORMAT),
    description: z.string().max(2_000).optional(),
    thresholds: z.strictObject({ review: z.int().min(1).max(100), decline: z.int().min(1).max(100) }),
    rules: z.array(RuleSchema).min(1).max(500),
  })
  // Checked even when other parts are wrong, so one validation names every problem; hence the
  // defensive reads of a document that may not have the right shape.
  .superRefine(
    (value, ctx) => {
      const rs = value as { thresholds?: { review?: unknown; decline?: unknown }; rules?: unknown };
      const t = rs?.thresholds;
      if (typeof t?.review === "number" && typeof t.decline === "number" && t.review > t.decline) {
        ctx.addIssue({
          code: "custom",
          path: ["thresholds", "review"],
          message: "must not exceed thresholds.decline",
        });
      }
      if (!Array.isArray(rs?.rules)) return;
      const seen = new Set<unknown>();
      rs.rules.forEach((r: { id?: unknown } | null, i: number) => {
        if (r && seen.has(r.id)) {
          ctx.addIssue({
            code: "custom",
            path: ["rules", i, "id"],
            message: `duplicate rule id ${String(r.id)}`,
          });
        }
        seen.add(r?.id);
      });
    },
    { when: () => true },
  );
export type RuleSet = z.output<typeof RuleSetSchema>;
export type Rule = RuleSet["rules"][number];

/** The content address of a rule set: `rs-` and 12 hex digits of the SHA-256 of its canonical JSON. */
export function ruleSetVersion(rs: RuleSet): string {
  return contentAddress("rs", rs);
}

/** Every validation problem with its JSON path ("rules.3.when.args.0.field"). */
export function validateRuleSet(
  doc: unknown,
): { ok: true; ruleSet: RuleSet } | { ok: false; issues: Array<{ path: string; message: string }> } {
  // Literals, descriptions and ids are scanned for card numbers like any client text (issue 20).
  const pans = findPans(doc);
  if (pans.length > 0) {
    return {
      ok: false,
      issues: pans.map((path) => ({
        path: path || "(document)",
        message: "looks like a card number; never put a PAN in a rule",
      })),
    };
  }
  const parsed = RuleSetSchema.safeParse(doc);
  if (parsed.success) {
    const cost = aggregateCost(parsed.data);
    if (cost <= MAX_AGGREGATE_COST) return { ok: true, ruleSet: parsed.data };
    return {
      ok: false,
      issues: [
        {
          path: "rules",
          message: `the aggregates may read ${cost} rows per user and round, over the budget of ${MAX_AGGREGATE_COST}: use fewer distinct windows or count_distinct fields`,
        },
      ],
    };
  }
  return {
    ok: false,
    issues: parsed.error.issues.map((i) => ({ path: i.path.join(".") || "(document)", message: i.message })),
  };
}

/** The widest aggregate window of a rule set (what history a round must load), ms. */
export function widestWindowMs(rs: RuleSet): number {
  return Math.max(0, ...aggregateTerms(rs).map((t) => t.windowMs));
}

/** The field an aggregate reads: its own, or the default of count_distinct and first_seen. */
export function aggField(e: Extract<Expr, { agg: unknown }>): AggField | undefined {
  if (e.agg === "count_distinct") return e.field ?? "country";
  if (e.agg === "first_seen") return e.field ?? "device_id";
  return undefined;
}

/** One aggregate a rule set computes: what, over which window, of which field. */
export type AggregateTerm = {
  agg: Extract<Expr, { agg: unknown }>["agg"];
  windowMs: number;
  field?: AggField;
};

/** What makes two aggregate terms the same: aggregate, window and field. */
export const termKey = (t: AggregateTerm): string => `${t.agg}:${t.windowMs}:${t.field ?? ""}`;

/** The distinct aggregates of a rule set (what a round must be able to answer for each user). */
export function aggregateTerms(rs: RuleSet): AggregateTerm[] {
  const terms = new Map<string, AggregateTerm>();
  const visit = (e: Expr): void => {
    if (e === null || typeof e !== "object") return;
    if ("agg" in e) {
      const field = aggField(e);
      const term: AggregateTerm = {
        agg: e.agg,
        windowMs: e.window_seconds * 1000,
        ...(field ? { field } : {}),
      };
      terms.set(termKey(term), term);
    } else if ("args" in e) e.args.forEach(visit);
    else if ("arg" in e) visit(e.arg);
  };
  for (const r of rs.rules) visit(r.when);
  return [...terms.values()];
}

/**
 * The most rows a round may read per user for a rule set's aggregates (docs/rules.md#aggregates):
 * each distinct window of count/sum/avg reads at most 60 minute, 24 hour and (days + 1) day
 * buckets; each field counted by count_distinct at most 1,000 last-seen values; each first_seen one.
 */
export const MAX_AGGREGATE_COST = 10_000;

export function aggregateCost(rs: RuleSet): number {
  const terms = aggregateTerms(rs);
  const windows = new Set(
    terms.filter((t) => ["count", "sum", "avg"].includes(t.agg)).map((t) => t.windowMs),
  );
  const distinctFields = new Set(terms.filter((t) => t.agg === "count_distinct").map((t) => t.field));
  let cost = terms.filter((t) => t.agg === "first_seen").length + distinctFields.size * DISTINCT_CAP;
  for (const w of windows) cost += 60 + 24 + Math.ceil(w / 86_400_000) + 1;
  return cost;
}

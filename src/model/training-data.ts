import { sql } from "slonik";
import { z } from "zod";
import type { Label } from "../domain/case.ts";
import { toMinorUnits } from "../domain/money.ts";
import type { Profile } from "../domain/profile.ts";
import { ProfileSchema } from "../domain/profile.ts";
import type { RuleTransaction } from "../rules/evaluator.ts";
import { addTotal, type CurrencyTotal, DISTINCT_CAP, type RuleHistory } from "../rules/history.ts";
import type { AggField } from "../rules/rule-language.ts";
import { withDbErrors } from "../store/db-errors.ts";
import type { DatabasePool } from "../store/pool.ts";
import { PROFILE_COLUMNS } from "../store/profile-store.ts";
import { computeFeatures, FEATURE_WINDOW_MS, FEATURES } from "./features.ts";
import type { Dataset } from "./gbdt.ts";

/*
 * The training set of `sentinel model train` (issue 24): every labelled transaction received in
 * [from, to), with the features the scorer computes for it — from its profile and the user's
 * earlier transactions (read back to `from` − the features' widest window), in the order the scorer
 * saw them (received time, then topic position). Users are read in pages of a few hundred, each
 * user's rows walked once with a sliding window: the cost is the rows, not the rows squared.
 */

const USERS_PER_PAGE = 500;

const TxRow = z.object({
  transaction_id: z.string(),
  user_id: z.string(),
  amount: z.string(),
  currency: z.string(),
  received_ms: z.number(),
  country: z.string().nullable(),
  device_id: z.string().nullable(),
  merchant_id: z.string().nullable(),
  merchant_category: z.string().nullable(),
  channel: z.string().nullable(),
  ip: z.string().nullable(),
  label: z.string().nullable(),
});
type TxRow = z.output<typeof TxRow>;

type Entry = { ms: number; currency: string; units: bigint } & Partial<Record<AggField, string>>;

/**
 * A user's earlier transactions as a sliding window (oldest first): answers the history's questions
 * by walking back from the newest while inside the window — what rowHistory answers, without
 * parsing an amount twice.
 */
class WindowHistory implements RuleHistory {
  entries: Entry[] = [];
  #start = 0;

  push(e: Entry, windowMs: number): void {
    this.entries.push(e);
    while (this.#start < this.entries.length && this.entries[this.#start]!.ms <= e.ms - windowMs)
      this.#start++;
    if (this.#start > 1_024) {
      this.entries = this.entries.slice(this.#start);
      this.#start = 0;
    }
  }

  reset(): void {
    this.entries = [];
    this.#start = 0;
  }

  totals(fromMs: number) {
    const byCurrency = new Map<string, CurrencyTotal>();
    let n = 0;
    for (let i = this.entries.length - 1; i >= this.#start && this.entries[i]!.ms > fromMs; i--) {
      const e = this.entries[i]!;
      n++;
      addTotal(byCurrency, e.currency, 1, e.units);
    }
    return { n, byCurrency };
  }

  distinctCount(field: AggField, fromMs: number): number {
    const values = new Set<string>();
    for (let i = this.entries.length - 1; i >= this.#start && this.entries[i]!.ms > fromMs; i--) {
      const v = this.entries[i]![field];
      if (v !== undefined) values.add(v);
    }
    return Math.min(values.size, DISTINCT_CAP);
  }

  seen(field: AggField, value: string, fromMs: number): boolean {
    for (let i = this.entries.length - 1; i >= this.#start && this.entries[i]!.ms > fromMs; i--)
      if (this.entries[i]![field] === value) return true;
    return false;
  }
}

function ruleTx(r: TxRow): RuleTransaction {
  const tx: RuleTransaction = {
    transactionId: r.transaction_id,
    amount: r.amount,
    currency: r.currency,
    receivedMs: r.received_ms,
  };
  for (const f of ["country", "device_id", "merchant_id", "merchant_category", "channel", "ip"] as const) {
    const v = r[f];
    if (v !== null) tx[f] = v.trim();
  }
  return tx;
}

export type TrainingSet = Dataset & { fraud: number; users: number };

/**
 * Builds a training set from transactions given user by user, each user's in the scorer's order:
 * `add` every one (the earlier ones are the later ones' history), with a label for those to train on.
 */
export function createFeatureWriter(capacity: number, fxRates: Readonly<Record<string, string>>) {
  const width = FEATURES.length;
  const x = new Float64Array(capacity * width);
  const y = new Uint8Array(capacity);
  const history = new WindowHistory();
  let rows = 0;
  let fraud = 0;
  let users = 0;
  let user: string | undefined;
  return {
    add(userId: string, tx: RuleTransaction, profile: Profile | null, label: Label | null | undefined): void {
      if (userId !== user) {
        user = userId;
        users++;
        history.reset();
      }
      if (label && rows < capacity) {
        computeFeatures(tx, profile, history, fxRates, x.subarray(rows * width, (rows + 1) * width));
        y[rows] = label === "fraud" ? 1 : 0;
        fraud += y[rows]!;
        rows++;
      }
      history.push(
        { ...tx, ms: tx.receivedMs, units: toMinorUnits(tx.amount, tx.currency) },
        FEATURE_WINDOW_MS,
      );
    },
    get rows() {
      return rows;
    },
    result(): TrainingSet {
      return { x: x.subarray(0, rows * width), y: y.subarray(0, rows), rows, width, fraud, users };
    },
  };
}

export type TrainingSource = {
  pool: DatabasePool;
  fromMs: number;
  toMs: number;
  /** Labels that win over the analysts' (a CSV, the simulator's truth); analysts' labels otherwise. */
  labels?: ReadonlyMap<string, Label>;
  /** Only the labels given, not the analysts' (the simulator's truth is complete). */
  onlyGivenLabels?: boolean;
  fxRates: Readonly<Record<string, string>>;
  onProgress?(rows: number): void;
};

/** The labelled transactions of [from, to) and their features. @throws SentinelError when PostgreSQL fails. */
export async function loadTrainingSet(src: TrainingSource): Promise<TrainingSet> {
  const { pool, fromMs, toMs } = src;
  const range = sql.fragment`received_at >= to_timestamp(${(fromMs - FEATURE_WINDOW_MS) / 1000})
    AND received_at < to_timestamp(${toMs / 1000})`;
  const users = await withDbErrors("training users", () =>
    pool.anyFirst(sql.type(z.object({ user_id: z.string() }))`
      SELECT DISTINCT user_id FROM transactions WHERE ${range} ORDER BY user_id`),
  );
  const capacity = await withDbErrors("training rows", () =>
    pool.oneFirst(sql.type(z.object({ n: z.number() }))`
      SELECT count(*)::int AS n FROM transactions
      WHERE received_at >= to_timestamp(${fromMs / 1000}) AND received_at < to_timestamp(${toMs / 1000})`),
  );
  const writer = createFeatureWriter(capacity, src.fxRates);
  const labelSql = src.onlyGivenLabels
    ? sql.fragment`NULL::text`
    : sql.fragment`(SELECT l.label FROM labels l WHERE l.transaction_id = t.transaction_id
        ORDER BY l.label_id DESC LIMIT 1)`;
  for (let p = 0; p < users.length; p += USERS_PER_PAGE) {
    const page = users.slice(p, p + USERS_PER_PAGE);
    const [txs, profiles] = await Promise.all([
      withDbErrors("training transactions", () =>
        pool.any(sql.type(TxRow)`
          SELECT t.transaction_id::text, t.user_id, t.amount::text, t.currency,
                 (extract(epoch FROM t.received_at) * 1000)::int8 AS received_ms,
                 t.country, t.device_id, t.merchant_id, t.merchant_category, t.channel, host(t.ip) AS ip,
                 ${labelSql} AS label
          FROM transactions t
          WHERE t.user_id = ANY(${sql.array(page, "text")}) AND ${range}
          ORDER BY t.user_id, t.received_at, t.source_partition, t.source_offset`),
      ),
      withDbErrors("training profiles", () =>
        pool.any(sql.type(ProfileSchema)`
          SELECT ${PROFILE_COLUMNS} FROM user_profiles WHERE user_id = ANY(${sql.array(page, "text")})`),
      ),
    ]);
    const profileOf = new Map<string, Profile>(profiles.map((pr) => [pr.user_id, pr]));
    for (const r of txs) {
      const inRange = r.received_ms >= fromMs && r.received_ms < toMs;
      const label = inRange ? (src.labels?.get(r.transaction_id) ?? (r.label as Label | null)) : null;
      writer.add(r.user_id, ruleTx(r), profileOf.get(r.user_id) ?? null, label);
    }
    src.onProgress?.(writer.rows);
  }
  return { ...writer.result(), users: users.length };
}

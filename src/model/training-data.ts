import { sql } from "slonik";
import { z } from "zod";
import { createCaseStore } from "../cases/case-store.ts";
import type { Label } from "../domain/case.ts";
import { toMinorUnits } from "../domain/money.ts";
import type { Profile } from "../domain/profile.ts";
import type { RuleTransaction } from "../rules/history.ts";
import { type RuleHistory, type RuleHistoryEntry, rowHistory } from "../rules/history.ts";
import { withDbErrors } from "../store/db-errors.ts";
import type { DatabasePool } from "../store/pool.ts";
import { createProfileStore } from "../store/profile-store.ts";
import { createTransactionStore } from "../store/transaction-store.ts";
import { ENTITY_BUCKET_MS, ENTITY_WINDOW_MS, EntityTimeline } from "./entity-features.ts";
import { computeFeatures, FEATURE_WINDOW_MS, FEATURES } from "./features.ts";
import type { Dataset } from "./gbdt.ts";

/*
 * The training set of `sentinel model train` (issue 24): every labelled transaction received in
 * [from, to), with the features the scorer computes for it — from its profile and the user's
 * earlier transactions (read back to `from` − the features' widest window), in the order the scorer
 * saw them (received time, then topic position). Users are read in pages of a few hundred, each
 * user's rows walked once with a sliding window whose questions are rowHistory's (the scorer's own
 * for users without per-user state).
 */

const USERS_PER_PAGE = 250;

/**
 * A user's earlier transactions as a sliding window (oldest first), each amount parsed once on the
 * way in; the history's questions are rowHistory's, over the window.
 */
class SlidingWindow {
  entries: RuleHistoryEntry[] = [];
  units: bigint[] = [];
  #start = 0;

  push(e: RuleHistoryEntry, windowMs: number): void {
    this.entries.push(e);
    this.units.push(toMinorUnits(e.amount, e.currency));
    while (
      this.#start < this.entries.length &&
      this.entries[this.#start]!.receivedMs <= e.receivedMs - windowMs
    )
      this.#start++;
    if (this.#start > 1_024) {
      this.entries = this.entries.slice(this.#start);
      this.units = this.units.slice(this.#start);
      this.#start = 0;
    }
  }

  reset(): void {
    this.entries = [];
    this.units = [];
    this.#start = 0;
  }

  history(): RuleHistory {
    return rowHistory(this.entries, { units: this.units, from: this.#start });
  }
}

/** Rows with their labels, and each row's received time (ms): the out-of-time split's clock. */
export type TrainingSet = Dataset & { fraud: number; users: number; t: Float64Array };

/** The rows received before `cutoffMs` and the others, as two sets (copies). */
export function splitByTime(set: TrainingSet, cutoffMs: number): { head: TrainingSet; tail: TrainingSet } {
  const pick = (keep: (t: number) => boolean): TrainingSet => {
    const rows: number[] = [];
    for (let r = 0; r < set.rows; r++) if (keep(set.t[r]!)) rows.push(r);
    const x = new Float64Array(rows.length * set.width);
    const y = new Uint8Array(rows.length);
    const t = new Float64Array(rows.length);
    rows.forEach((r, i) => {
      x.set(set.x.subarray(r * set.width, (r + 1) * set.width), i * set.width);
      y[i] = set.y[r]!;
      t[i] = set.t[r]!;
    });
    const fraud = y.reduce((n, v) => n + v, 0);
    return { x, y, t, rows: rows.length, width: set.width, fraud, users: set.users };
  };
  return { head: pick((t) => t < cutoffMs), tail: pick((t) => t >= cutoffMs) };
}

/**
 * Builds a training set from transactions given user by user, each user's in the scorer's order:
 * `add` every one (the earlier ones are the later ones' history), with a label for those to train on.
 */
export function createFeatureWriter(capacity: number, fxRates: Readonly<Record<string, string>>) {
  const width = FEATURES.length;
  const x = new Float64Array(capacity * width);
  const y = new Uint8Array(capacity);
  const t = new Float64Array(capacity);
  const window = new SlidingWindow();
  let rows = 0;
  let fraud = 0;
  let users = 0;
  let user: string | undefined;
  return {
    add(userId: string, tx: RuleTransaction, profile: Profile | null, label: Label | null | undefined): void {
      if (userId !== user) {
        user = userId;
        users++;
        window.reset();
      }
      if (label && rows < capacity) {
        computeFeatures(tx, profile, window.history(), fxRates, x.subarray(rows * width, (rows + 1) * width));
        y[rows] = label === "fraud" ? 1 : 0;
        t[rows] = tx.receivedMs;
        fraud += y[rows]!;
        rows++;
      }
      window.push(tx, FEATURE_WINDOW_MS);
    },
    get rows() {
      return rows;
    },
    result(): TrainingSet {
      return {
        x: x.subarray(0, rows * width),
        y: y.subarray(0, rows),
        t: t.subarray(0, rows),
        rows,
        width,
        fraud,
        users,
      };
    },
  };
}

const EntityRow = z.object({
  transaction_id: z.string(),
  user_id: z.string(),
  merchant_id: z.string().nullable(),
  device_id: z.string().nullable(),
  received_ms: z.coerce.number(),
});

/**
 * The entity features of every transaction received in [from, to), computed as the scorer's
 * memory answers them: every transaction of every user from the widest entity window (and the
 * whole hour it starts in) before `from`, in received order, then partition and offset.
 */
export async function loadEntityValues(
  pool: DatabasePool,
  fromMs: number,
  toMs: number,
): Promise<Map<string, Float64Array>> {
  const start = Math.floor((fromMs - ENTITY_WINDOW_MS) / ENTITY_BUCKET_MS) * ENTITY_BUCKET_MS;
  const rows = await withDbErrors("training entities", () =>
    pool.any(sql.type(EntityRow)`
      SELECT transaction_id::text, user_id, merchant_id, device_id,
             (extract(epoch FROM received_at) * 1000)::int8 AS received_ms
      FROM transactions
      WHERE received_at >= to_timestamp(${start / 1000}) AND received_at < to_timestamp(${toMs / 1000})
      ORDER BY received_at, source_partition, source_offset`),
  );
  const timeline = new EntityTimeline();
  const out = new Map<string, Float64Array>();
  for (const r of rows) {
    const values = timeline.observe({
      transactionId: r.transaction_id,
      user: r.user_id,
      receivedMs: r.received_ms,
      merchant_id: r.merchant_id ?? undefined,
      device_id: r.device_id ?? undefined,
    });
    if (r.received_ms >= fromMs) out.set(r.transaction_id, values);
  }
  return out;
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

/**
 * The labelled transactions of [from, to) and their features, read with the stores the scorer
 * reads (its history query, the profiles, the analysts' latest labels), a page of users at a time.
 * @throws SentinelError when PostgreSQL fails.
 */
export async function loadTrainingSet(src: TrainingSource): Promise<TrainingSet> {
  const { pool, fromMs, toMs } = src;
  const historyFrom = fromMs - FEATURE_WINDOW_MS;
  const users = await withDbErrors("training users", () =>
    pool.anyFirst(sql.type(z.object({ user_id: z.string() }))`
      SELECT DISTINCT user_id FROM transactions
      WHERE received_at >= to_timestamp(${historyFrom / 1000}) AND received_at < to_timestamp(${toMs / 1000})
      ORDER BY user_id`),
  );
  const capacity = await withDbErrors("training rows", () =>
    pool.oneFirst(sql.type(z.object({ n: z.number() }))`
      SELECT count(*)::int AS n FROM transactions
      WHERE received_at >= to_timestamp(${fromMs / 1000}) AND received_at < to_timestamp(${toMs / 1000})`),
  );
  const transactions = createTransactionStore({ pool });
  const profiles = createProfileStore({ pool });
  const cases = createCaseStore({ pool });
  const writer = createFeatureWriter(capacity, src.fxRates);
  const entities = await loadEntityValues(pool, fromMs, toMs);
  for (let p = 0; p < users.length; p += USERS_PER_PAGE) {
    const page = users.slice(p, p + USERS_PER_PAGE);
    const [rows, known] = await Promise.all([
      // findHistory reads after its bound: one millisecond earlier keeps `historyFrom` itself.
      transactions.findHistory(page, historyFrom - 1, { beforeMs: toMs }),
      profiles.getMany(page),
    ]);
    // The scorer's order: per user, received time, then where it was read.
    const txs = rows.sort(
      (a, b) =>
        (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0) ||
        a.receivedMs - b.receivedMs ||
        a.partition - b.partition ||
        a.offset - b.offset,
    );
    const inRange = txs.filter((r) => r.receivedMs >= fromMs).map((r) => r.transactionId);
    const analysts = src.onlyGivenLabels ? new Map<string, Label>() : await cases.latestLabels(inRange);
    const profileOf = new Map<string, Profile>(known.map((pr) => [pr.user_id, pr]));
    for (const { userId, partition: _p, offset: _o, ...tx } of txs) {
      const label =
        tx.receivedMs >= fromMs
          ? (src.labels?.get(tx.transactionId) ?? analysts.get(tx.transactionId))
          : null;
      const values = entities.get(tx.transactionId);
      writer.add(userId, values ? { ...tx, entities: values } : tx, profileOf.get(userId) ?? null, label);
    }
    src.onProgress?.(writer.rows);
  }
  return { ...writer.result(), users: users.length };
}

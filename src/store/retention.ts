import { sql } from "slonik";
import { z } from "zod";
import type { RetentionPolicy } from "../config-secrets.ts";
import type { Logger } from "../logger.ts";
import { withDbErrors } from "./db-errors.ts";
import { dropPartitionsBefore, ensurePartitions } from "./partitions.ts";
import type { DatabasePool } from "./pool.ts";

/*
 * The retention job (issue 34): `sentinel retention`, and every RETENTION_INTERVAL_MINUTES in each
 * consumer process. Transactions and their decisions go a week-partition at a time (DROP TABLE,
 * migration 016); the smaller kinds in short batches of the oldest rows by their key (each DELETE
 * is bounded, and so is their number per run). The audit trail is never pruned by the service: its
 * rows cannot be deleted by the runtime role (an owner archives it, docs/operations.md).
 */

const DAY_MS = 86_400_000;
const BATCH = 5_000;
const MAX_BATCHES = 200;

export type RetentionResult = {
  droppedPartitions: string[];
  deleted: Record<
    "cases" | "webhook_deliveries" | "event_outbox" | "label_outbox" | "user_buckets" | "user_values",
    number
  >;
};

type Pruned = {
  kind: "cases" | "webhook_deliveries" | "event_outbox" | "label_outbox";
  table: string;
  key: string;
  /** The column whose order is the rows' age (an index leads with it, so a batch reads little). */
  order: string;
  /** What makes a row prunable, compared with the cutoff (`… < cutoff`). */
  olderThan: ReturnType<typeof sql.fragment>;
  days: (p: RetentionPolicy) => number;
};

/** The kinds pruned in batches, oldest first. */
const PRUNED: readonly Pruned[] = [
  {
    kind: "cases",
    table: "cases",
    key: "transaction_id",
    order: "seq",
    olderThan: sql.fragment`status = 'resolved' AND resolved_at`,
    days: (p) => p.casesDays,
  },
  {
    kind: "webhook_deliveries",
    table: "webhook_deliveries",
    key: "delivery_id",
    order: "delivery_id",
    olderThan: sql.fragment`status <> 'pending' AND created_at`,
    days: (p) => p.webhookDeliveriesDays,
  },
  {
    kind: "event_outbox",
    table: "event_outbox",
    key: "event_id",
    order: "event_id",
    olderThan: sql.fragment`published_at`,
    days: (p) => p.outboxDays,
  },
  {
    kind: "label_outbox",
    table: "label_outbox",
    key: "label_id",
    order: "label_id",
    olderThan: sql.fragment`published_at`,
    days: (p) => p.outboxDays,
  },
];

/** One kind: its oldest rows past `cutoff`, BATCH at a time, at most MAX_BATCHES. */
async function prune(pool: DatabasePool, k: Pruned, cutoff: string): Promise<number> {
  const [table, key, order] = [k.table, k.key, k.order].map((n) => sql.identifier([n]));
  let total = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const n = await withDbErrors(`retention ${k.kind}`, () =>
      pool.oneFirst(sql.type(z.object({ n: z.number() }))`
        WITH gone AS (
          DELETE FROM ${table!} WHERE ${key!} IN (
            SELECT ${key!} FROM ${table!} WHERE ${k.olderThan} < ${cutoff}::timestamptz ORDER BY ${order!} LIMIT ${BATCH})
          RETURNING 1)
        SELECT count(*)::int AS n FROM gone`),
    );
    total += n;
    if (n < BATCH) break;
  }
  return total;
}

const USERS_PER_BATCH = 2_000;

/**
 * The per-user state older than `cutoffMs`: each grain's buckets before it, and the values last
 * seen before it. A walk over the users in key order, USERS_PER_BATCH at a time (each DELETE reads
 * those users' rows by their key), at most MAX_BATCHES per run.
 */
async function pruneUserState(
  pool: DatabasePool,
  cutoffMs: number,
): Promise<{ user_buckets: number; user_values: number }> {
  const total = { user_buckets: 0, user_values: 0 };
  let last = "";
  for (let i = 0; i < MAX_BATCHES; i++) {
    const r = await withDbErrors("retention user state", () =>
      pool.one(sql.type(z.object({ last: z.string().nullable(), buckets: z.number(), values: z.number() }))`
        WITH users AS (
          SELECT user_id FROM user_positions WHERE user_id > ${last} ORDER BY user_id LIMIT ${USERS_PER_BATCH}
        ), b AS (
          DELETE FROM user_buckets WHERE user_id IN (SELECT user_id FROM users)
            AND bucket < floor(${cutoffMs}::float8 / (grain * 1000.0))::int8
          RETURNING 1
        ), v AS (
          DELETE FROM user_values WHERE user_id IN (SELECT user_id FROM users) AND last_ms < ${cutoffMs}::int8
          RETURNING 1
        )
        SELECT (SELECT max(user_id) FROM users) AS last, (SELECT count(*) FROM b)::int AS buckets,
               (SELECT count(*) FROM v)::int AS values`),
    );
    total.user_buckets += r.buckets;
    total.user_values += r.values;
    if (r.last === null) break;
    last = r.last;
  }
  return total;
}

/** Applies the policy as of `nowMs`; what it removed. */
export async function applyRetention(
  pool: DatabasePool,
  policy: RetentionPolicy,
  nowMs = Date.now(),
): Promise<RetentionResult> {
  // The weeks ahead exist before they are needed (the store creates a missing one too).
  await ensurePartitions(pool, [nowMs, nowMs + 7 * DAY_MS, nowMs + 14 * DAY_MS]);
  const droppedPartitions = await dropPartitionsBefore(pool, nowMs - policy.transactionsDays * DAY_MS);
  const deleted: RetentionResult["deleted"] = {
    cases: 0,
    webhook_deliveries: 0,
    event_outbox: 0,
    label_outbox: 0,
    ...(await pruneUserState(pool, nowMs - policy.userStateDays * DAY_MS)),
  };
  for (const k of PRUNED)
    deleted[k.kind] = await prune(pool, k, new Date(nowMs - k.days(policy) * DAY_MS).toISOString());
  return { droppedPartitions, deleted };
}

/**
 * The job inside a running consumer: first a minute after start, then every `intervalMs`; a
 * failure is logged and tried again at the next turn. Returns its stop.
 */
export function startRetentionLoop(
  pool: DatabasePool,
  policy: RetentionPolicy & { intervalMs: number },
  logger: Pick<Logger, "info" | "warn">,
): () => void {
  if (policy.intervalMs <= 0) return () => {};
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    try {
      const r = await applyRetention(pool, policy);
      const deleted = Object.values(r.deleted).reduce((a, b) => a + b, 0);
      if (r.droppedPartitions.length > 0 || deleted > 0) logger.info({ retention: r }, "retention applied");
    } catch (error) {
      logger.warn({ err: (error as Error).message }, "retention failed; trying again at the next turn");
    } finally {
      running = false;
    }
  };
  const first = setTimeout(() => void run(), Math.min(60_000, policy.intervalMs));
  const every = setInterval(() => void run(), policy.intervalMs);
  first.unref();
  every.unref();
  return () => {
    clearTimeout(first);
    clearInterval(every);
  };
}

import { sql } from "slonik";
import { z } from "zod";
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

export type RetentionPolicy = Readonly<{
  /** Transactions and decisions (whole weekly partitions: kept up to a week longer). */
  transactionsDays: number;
  /** Resolved cases. */
  casesDays: number;
  /** Delivered and failed webhook deliveries (with their attempts). */
  webhookDeliveriesDays: number;
  /** Published rows of the event and label outboxes. */
  outboxDays: number;
}>;

export type RetentionResult = {
  droppedPartitions: string[];
  deleted: Record<"cases" | "webhook_deliveries" | "event_outbox" | "label_outbox", number>;
};

/** One bounded kind: the oldest rows past `cutoff`, BATCH at a time. */
async function deleteBatches(
  pool: DatabasePool,
  name: string,
  batch: (cutoff: string) => ReturnType<typeof sql.unsafe>,
  cutoff: string,
): Promise<number> {
  let total = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const n = await withDbErrors(`retention ${name}`, () =>
      pool.oneFirst(
        sql.type(
          z.object({ n: z.number() }),
        )`WITH gone AS (${batch(cutoff)}) SELECT count(*)::int AS n FROM gone`,
      ),
    );
    total += n;
    if (n < BATCH) break;
  }
  return total;
}

/** Applies the policy as of `nowMs`; what it removed. */
export async function applyRetention(
  pool: DatabasePool,
  policy: RetentionPolicy,
  nowMs = Date.now(),
): Promise<RetentionResult> {
  const at = (days: number) => new Date(nowMs - days * DAY_MS).toISOString();
  // The weeks ahead exist before they are needed (the store creates a missing one too).
  await ensurePartitions(pool, [nowMs, nowMs + 7 * DAY_MS, nowMs + 14 * DAY_MS]);
  const droppedPartitions = await dropPartitionsBefore(pool, nowMs - policy.transactionsDays * DAY_MS);
  const cases = await deleteBatches(
    pool,
    "cases",
    (c) => sql.unsafe`DELETE FROM cases WHERE transaction_id IN (
      SELECT transaction_id FROM cases WHERE status = 'resolved' AND resolved_at < ${c}::timestamptz
      ORDER BY seq LIMIT ${BATCH}) RETURNING 1`,
    at(policy.casesDays),
  );
  const webhooks = await deleteBatches(
    pool,
    "webhook deliveries",
    (c) => sql.unsafe`DELETE FROM webhook_deliveries WHERE delivery_id IN (
      SELECT delivery_id FROM webhook_deliveries WHERE status <> 'pending' AND created_at < ${c}::timestamptz
      ORDER BY delivery_id LIMIT ${BATCH}) RETURNING 1`,
    at(policy.webhookDeliveriesDays),
  );
  const events = await deleteBatches(
    pool,
    "event outbox",
    (c) => sql.unsafe`DELETE FROM event_outbox WHERE event_id IN (
      SELECT event_id FROM event_outbox WHERE published_at < ${c}::timestamptz
      ORDER BY event_id LIMIT ${BATCH}) RETURNING 1`,
    at(policy.outboxDays),
  );
  const labels = await deleteBatches(
    pool,
    "label outbox",
    (c) => sql.unsafe`DELETE FROM label_outbox WHERE label_id IN (
      SELECT label_id FROM label_outbox WHERE published_at < ${c}::timestamptz
      ORDER BY label_id LIMIT ${BATCH}) RETURNING 1`,
    at(policy.outboxDays),
  );
  return {
    droppedPartitions,
    deleted: { cases, webhook_deliveries: webhooks, event_outbox: events, label_outbox: labels },
  };
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

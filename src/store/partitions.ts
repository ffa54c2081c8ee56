import { sql } from "slonik";
import { z } from "zod";
import { withDbErrors } from "./db-errors.ts";
import type { DatabasePool } from "./pool.ts";

/*
 * The weekly partitions of transactions and decisions (migration 016): a week's are created the
 * first time a row of it is stored (sentinel_ensure_partitions, which the runtime role may call
 * but not bypass), and dropped whole by the retention job (sentinel_drop_partitions).
 */

const WEEK_MS = 7 * 86_400_000;
/** 1970-01-05 was a Monday: weeks start on Mondays at 00:00 UTC, as the migration's date_trunc. */
const MONDAY_MS = 4 * 86_400_000;

export const weekStart = (ms: number) => ms - ((((ms - MONDAY_MS) % WEEK_MS) + WEEK_MS) % WEEK_MS);

/** Weeks whose partitions exist, per pool; a week older than a few days is asked again each time. */
const known = new WeakMap<DatabasePool, Set<number>>();

/** Makes sure the partitions of the weeks of these received times exist (a statement only for a new week). */
export async function ensurePartitions(pool: DatabasePool, receivedMs: Iterable<number>): Promise<void> {
  const seen = known.get(pool) ?? new Set<number>();
  known.set(pool, seen);
  const recent = weekStart(Date.now()) - WEEK_MS;
  const missing = [...new Set([...receivedMs].map(weekStart))].filter((w) => !seen.has(w));
  if (missing.length === 0) return;
  const from = new Date(Math.min(...missing)).toISOString();
  const to = new Date(Math.max(...missing)).toISOString();
  await withDbErrors("ensure partitions", () =>
    pool.query(sql.unsafe`SELECT sentinel_ensure_partitions(${from}::timestamptz, ${to}::timestamptz)`),
  );
  // Older weeks may be dropped by retention meanwhile: only recent ones are remembered.
  for (const w of missing) if (w >= recent) seen.add(w);
}

/** Drops the partitions whose rows were all received before `cutoffMs`; their names. */
export async function dropPartitionsBefore(pool: DatabasePool, cutoffMs: number): Promise<string[]> {
  const dropped = await withDbErrors("drop partitions", () =>
    pool.oneFirst(
      sql.type(z.object({ dropped: z.array(z.string()) }))`
        SELECT sentinel_drop_partitions(${new Date(cutoffMs).toISOString()}::timestamptz) AS dropped`,
    ),
  );
  known.delete(pool);
  return dropped;
}

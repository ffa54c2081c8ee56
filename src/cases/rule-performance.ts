import { sql } from "slonik";
import { z } from "zod";
import { SentinelError } from "../errors.ts";
import { withDbErrors } from "../store/db-errors.ts";
import type { DatabasePool } from "../store/pool.ts";

/*
 * What the labels say of each rule: per rule (reason) and per outcome, how often it fired and how
 * its transactions are labelled. Served by GET /rules/performance (labels-plugin.ts) and printed by
 * `sentinel rules performance` (rule-performance-command.ts).
 */

const PerformanceRow = z.object({
  key: z.string(),
  fired: z.number(),
  fraud: z.number(),
  legitimate: z.number(),
});
export type PerformanceLine = {
  fired: number;
  fraud: number;
  legitimate: number;
  unlabelled: number;
  /** fraud / labelled; null while nothing it fired on is labelled. */
  precision: number | null;
};

const toLine = (r: z.output<typeof PerformanceRow>): PerformanceLine => ({
  fired: r.fired,
  fraud: r.fraud,
  legitimate: r.legitimate,
  unlabelled: r.fired - r.fraud - r.legitimate,
  precision:
    r.fraud + r.legitimate === 0 ? null : Math.round((r.fraud / (r.fraud + r.legitimate)) * 10_000) / 10_000,
});

/** Why a case could not change: unknown, claimed by someone else, already resolved. */
export type RulePerformance = {
  since: string;
  until: string;
  rules: Array<{ reason: string } & PerformanceLine>;
  outcomes: Array<{ decision: string } & PerformanceLine>;
};

/**
 * Per rule (reason) and per outcome, over the live decisions made in [sinceMs, untilMs): how
 * often it fired, and how its transactions are labelled (latest label of each).
 */
async function rulePerformance(pool: DatabasePool, sinceMs: number, untilMs: number) {
  // The latest label of each decision's transaction, by index (labels_transaction), not a scan of
  // every label; the decisions by their time index (decisions_live_decided_at).
  const scope = sql.fragment`
    WITH d AS (
      SELECT d.decision, d.reasons,
        (SELECT l.label FROM labels l WHERE l.transaction_id = d.transaction_id
         ORDER BY l.label_id DESC LIMIT 1) AS label
      FROM decisions d
      WHERE d.live AND d.decided_at >= to_timestamp(${sinceMs / 1000})
        AND d.decided_at < to_timestamp(${untilMs / 1000})
    )`;
  const counts = sql.fragment`count(*)::int AS fired, (count(*) FILTER (WHERE label = 'fraud'))::int AS fraud,
    (count(*) FILTER (WHERE label = 'legitimate'))::int AS legitimate`;
  const [rules, outcomes] = await Promise.all([
    withDbErrors("rule performance", () =>
      pool.any(sql.type(PerformanceRow)`${scope}
        SELECT key, ${counts} FROM d, unnest(d.reasons) AS reason,
          -- a model's reason is per transaction (its contributions): counted as "model <version>"
          LATERAL (SELECT CASE WHEN reason LIKE 'model %' THEN split_part(reason, ' ', 1) || ' ' || split_part(reason, ' ', 2)
                          ELSE reason END AS key) k
        GROUP BY key ORDER BY fired DESC, key`),
    ),
    withDbErrors("outcome performance", () =>
      pool.any(sql.type(PerformanceRow)`${scope}
        SELECT decision AS key, ${counts} FROM d GROUP BY decision ORDER BY decision`),
    ),
  ]);
  return {
    rules: rules.map((r) => ({ reason: r.key, ...toLine(r) })),
    outcomes: outcomes.map((r) => ({ decision: r.key, ...toLine(r) })),
  };
}

/** The widest range a report may cover: what it reads is bounded, whatever `since` says. */
export const MAX_RANGE_DAYS = 92;

/** @throws SentinelError(validation_failed) when the range is empty or wider than MAX_RANGE_DAYS. */
export function checkRange(sinceMs: number, untilMs: number): void {
  const issue = (message: string) =>
    new SentinelError("validation_failed", message, { issues: [{ path: "since", message }] });
  if (sinceMs >= untilMs) throw issue("must be before until");
  if (untilMs - sinceMs > MAX_RANGE_DAYS * 86_400_000)
    throw issue(`the range may span at most ${MAX_RANGE_DAYS} days`);
}

/**
 * The report over [sinceMs, untilMs).
 * @throws SentinelError(validation_failed) for a range checkRange refuses; store_unavailable.
 */
export async function rulePerformanceReport(
  pool: DatabasePool,
  sinceMs: number,
  untilMs: number,
): Promise<RulePerformance> {
  checkRange(sinceMs, untilMs);
  const perf = await rulePerformance(pool, sinceMs, untilMs);
  return { since: new Date(sinceMs).toISOString(), until: new Date(untilMs).toISOString(), ...perf };
}

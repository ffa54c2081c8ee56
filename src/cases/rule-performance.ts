import { sql } from "slonik";
import { z } from "zod";
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
  const scope = sql.fragment`
    WITH latest AS (
      SELECT DISTINCT ON (transaction_id) transaction_id, label FROM labels
      ORDER BY transaction_id, label_id DESC
    ), d AS (
      SELECT d.decision, d.reasons, l.label FROM decisions d LEFT JOIN latest l USING (transaction_id)
      WHERE d.live AND d.decided_at >= to_timestamp(${sinceMs / 1000})
        AND d.decided_at < to_timestamp(${untilMs / 1000})
    )`;
  const counts = sql.fragment`count(*)::int AS fired, (count(*) FILTER (WHERE label = 'fraud'))::int AS fraud,
    (count(*) FILTER (WHERE label = 'legitimate'))::int AS legitimate`;
  const [rules, outcomes] = await Promise.all([
    withDbErrors("rule performance", () =>
      pool.any(sql.type(PerformanceRow)`${scope}
        SELECT reason AS key, ${counts} FROM d, unnest(d.reasons) AS reason GROUP BY reason ORDER BY fired DESC, reason`),
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

/** The report over [sinceMs, untilMs). @throws SentinelError(store_unavailable). */
export async function rulePerformanceReport(
  pool: DatabasePool,
  sinceMs: number,
  untilMs: number,
): Promise<RulePerformance> {
  const perf = await rulePerformance(pool, sinceMs, untilMs);
  return { since: new Date(sinceMs).toISOString(), until: new Date(untilMs).toISOString(), ...perf };
}

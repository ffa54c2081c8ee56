import type { Config } from "../config.ts";
import { SentinelError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { newTable, out, toJson } from "../ops/output.ts";
import { createDatabasePool } from "../store/pool.ts";
import { type RulePerformance, rulePerformanceReport } from "./rule-performance.ts";

/* `sentinel rules performance`: what the labels say of each rule, the same figures as the API. */

const pct = (p: number | null) => (p === null ? "—" : `${(p * 100).toFixed(1)}%`);

/** The two tables of rule performance (pure). */
export function renderRulePerformance(p: RulePerformance): string[] {
  const rules = newTable(["rule (reason)", "fired", "fraud", "legitimate", "unlabelled", "precision"]);
  for (const r of p.rules)
    rules.push([r.reason, r.fired, r.fraud, r.legitimate, r.unlabelled, pct(r.precision)]);
  const outcomes = newTable(["outcome", "decisions", "fraud", "legitimate", "unlabelled", "precision"]);
  for (const o of p.outcomes)
    outcomes.push([o.decision, o.fired, o.fraud, o.legitimate, o.unlabelled, pct(o.precision)]);
  return [`decisions from ${p.since} to ${p.until}`, rules.toString(), outcomes.toString()];
}

function time(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text) || !Number.isFinite(ms)) {
    throw new SentinelError(
      "validation_failed",
      `${name}: "${text}" is not an RFC 3339 time such as 2026-11-01T00:00:00Z`,
    );
  }
  return ms;
}

export async function rulesPerformanceCommand(
  config: Config,
  _logger: Logger,
  opts: { since?: string; until?: string; json?: boolean },
): Promise<void> {
  const until = time(opts.until, "--until") ?? Date.now() + 1;
  const since = time(opts.since, "--since") ?? until - 30 * 86_400_000;
  const pool = await createDatabasePool(config.database.url, { maxPoolSize: 2 });
  try {
    const report = await rulePerformanceReport(pool, since, until);
    if (opts.json) return out(toJson(report));
    for (const line of renderRulePerformance(report)) out(line);
  } finally {
    await pool.end();
  }
}

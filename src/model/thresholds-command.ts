import type { Config } from "../config.ts";
import { SentinelError } from "../errors.ts";
import { readLabelsCsv } from "../ops/backtest.ts";
import { newTable, out, toJson } from "../ops/output.ts";
import { withPool } from "../store/pool.ts";
import { instant, type ModelCliOptions, vocabularyOf } from "./cli-options.ts";
import { type Budget, operatingPoint } from "./evaluate.ts";
import { validateModel } from "./model.ts";
import { createModelStore } from "./model-store.ts";
import { scoreRows } from "./train.ts";
import { loadTrainingSet } from "./training-data.ts";

/*
 * `sentinel model thresholds <version> [--review-per-1000 N …] [--fpr X …]` (issue 36): on labelled
 * transactions the model was not trained on — its held-out tail, or [--from, --to) — the lowest
 * model.score threshold that stays within each review budget or false-positive rate, and the
 * recall it buys. Default budgets: 1, 2 and 5 reviews per 1,000 and a 0.1 % false-positive rate.
 */

const numbers = (list: readonly string[] | undefined, name: string, max: number): number[] =>
  (list ?? []).map((v) => {
    const n = Number(v);
    if (!(n > 0 && n <= max))
      throw new SentinelError("validation_failed", `--${name} must be in (0, ${max}] (got ${v})`);
    return n;
  });

export async function thresholdsCommand(
  config: Config,
  version: string,
  opts: ModelCliOptions,
): Promise<void> {
  const budgets: Budget[] = [
    ...numbers(opts.reviewPer1000, "review-per-1000", 1000).map((reviewPer1000) => ({ reviewPer1000 })),
    ...numbers(opts.fpr, "fpr", 1).map((fpr) => ({ fpr })),
  ];
  if (budgets.length === 0)
    budgets.push({ reviewPer1000: 1 }, { reviewPer1000: 2 }, { reviewPer1000: 5 }, { fpr: 0.001 });
  const labels = opts.labels ? await readLabelsCsv(opts.labels, vocabularyOf(opts)) : undefined;
  await withPool(config, async (pool) => {
    const stored = await createModelStore({ pool }).get(version);
    if (stored === null) throw new SentinelError("not_found", `no model version ${version}`);
    const valid = validateModel(stored);
    if (!valid.ok) throw new SentinelError("internal", `stored model ${version} is invalid`);
    const { training } = valid.model;
    const from = opts.from ?? training.holdout?.from;
    const to = opts.to ?? training.holdout?.to;
    if (!from || !to)
      throw new SentinelError(
        "validation_failed",
        "this model held nothing out: give --from and --to (a range it was not trained on)",
      );
    const [fromMs, toMs] = [instant("from", from), instant("to", to)];
    const trainedUntil = Date.parse(training.holdout?.from ?? training.to);
    const inSample = fromMs < trainedUntil && toMs > Date.parse(training.from);
    const set = await loadTrainingSet({
      pool,
      fromMs,
      toMs,
      fxRates: config.rules.fxRates,
      ...(labels ? { labels } : {}),
    });
    if (set.rows === 0)
      throw new SentinelError("validation_failed", `no labelled transaction in [${from}, ${to})`);
    const scores = scoreRows(valid.model, set);
    const points = budgets.map((b) => ({ budget: b, ...operatingPoint(scores, set.y, b) }));
    if (opts.json)
      return out(toJson({ version, from, to, rows: set.rows, fraud: set.fraud, inSample, points }));
    out(`${version} on ${set.rows} labelled transactions (${set.fraud} fraud) received in [${from}, ${to})`);
    if (inSample)
      out("  warning: the range overlaps what the model was trained on: these figures are in-sample");
    const table = newTable([
      "budget",
      "model.score ≥",
      "recall",
      "precision",
      "false positives",
      "reviews per 1,000",
    ]);
    for (const p of points)
      table.push([
        "fpr" in p.budget ? `FPR ≤ ${p.budget.fpr * 100}%` : `${p.budget.reviewPer1000} per 1,000`,
        p.threshold > 1 ? "(none)" : p.threshold,
        p.recall,
        p.precision ?? "—",
        `${(p.fpr * 100).toFixed(4)}%`,
        p.reviewPer1000,
      ]);
    out(table.toString());
    out(
      "  use one as the review level: RULES_MODEL_REVIEW=<threshold> (the default rule set), or a rule on model.score",
    );
  });
}

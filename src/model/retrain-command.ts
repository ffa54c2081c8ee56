import { auditOperatorAction, cliActor } from "../audit/audit-command.ts";
import type { Config } from "../config.ts";
import { SentinelError } from "../errors.ts";
import { submitFromCli } from "../governance/changes-command.ts";
import type { Logger } from "../logger.ts";
import { readLabelsCsv } from "../ops/backtest.ts";
import { out } from "../ops/output.ts";
import { withPool } from "../store/pool.ts";
import { type ModelCliOptions, vocabularyOf } from "./cli-options.ts";
import { operatingPoint } from "./evaluate.ts";
import { validateModel } from "./model.ts";
import { createModelStore } from "./model-store.ts";
import { scoreRows } from "./train.ts";
import { trainFromCli } from "./train-cli.ts";
import { loadTrainingSet, splitByTime } from "./training-data.ts";

/*
 * `sentinel model retrain --days N [--review-per-1000 R]` (issue 36): a candidate trained on the
 * last N days of labels (the analysts'; a CSV over them) with the last fifth held out; the
 * candidate and the active model scored on the same held-out transactions; the candidate is
 * activated — proposed, under four eyes — only when it catches more at the review budget (default
 * 2 per 1,000). Every step is audited: the training (model.train), the comparison
 * (model.retrain), the activation or its proposal. Closing lines `retrain_*=`.
 */

const DAY = 86_400_000;
const HOLDOUT = 0.2;

export async function retrainCommand(
  config: Config,
  logger: Logger,
  opts: ModelCliOptions & { days?: string },
) {
  const days = Number(opts.days);
  if (!Number.isInteger(days) || days < 2 || days > 366)
    throw new SentinelError("validation_failed", "--days must be a whole number of days from 2 to 366");
  const budget = Number(opts.reviewPer1000?.[0] ?? "2");
  if (!(budget > 0 && budget <= 1000))
    throw new SentinelError("validation_failed", "--review-per-1000 must be in (0, 1000]");
  const labels = opts.labels ? await readLabelsCsv(opts.labels, vocabularyOf(opts)) : undefined;
  const toMs = Date.now();
  const fromMs = toMs - days * DAY;
  const cutoffMs = Math.round(fromMs + (1 - HOLDOUT) * (toMs - fromMs));
  await withPool(config, async (pool) => {
    const store = createModelStore({ pool });
    const trained = await trainFromCli(pool, logger, config.rules.fxRates, {
      fromMs,
      toMs,
      ...(labels ? { labels } : {}),
      holdout: HOLDOUT,
      opts,
    });
    await store.save(trained.version, trained.document, trained.summary, cliActor(config));
    // The same held-out transactions for both: the tail of the range, which the candidate never saw.
    const all = await loadTrainingSet({
      pool,
      fromMs,
      toMs,
      fxRates: config.rules.fxRates,
      ...(labels ? { labels } : {}),
    });
    const { tail } = splitByTime(all, cutoffMs);
    if (tail.fraud === 0)
      throw new SentinelError(
        "validation_failed",
        "no fraud among the held-out days' labels: nothing to compare on",
      );
    const recallOf = (doc: Parameters<typeof scoreRows>[0]) =>
      operatingPoint(scoreRows(doc, tail), tail.y, { reviewPer1000: budget }).recall;
    const candidate = recallOf(trained.document);
    const activeVersion = (await store.stamp()).active;
    const activeDoc = activeVersion ? validateModel(await store.get(activeVersion)) : null;
    const active = activeDoc?.ok ? recallOf(activeDoc.model) : null;
    // Better: catches more than the active model — or, with none active, catches anything at all.
    const better = candidate > (active ?? 0);
    const comparison = {
      candidate: trained.version,
      active: activeVersion,
      held_out: {
        from: new Date(cutoffMs).toISOString(),
        to: new Date(toMs).toISOString(),
        rows: tail.rows,
        fraud: tail.fraud,
      },
      review_per_1000: budget,
      candidate_recall: candidate,
      active_recall: active,
      better,
    };
    await auditOperatorAction(config, {
      action: "model.retrain",
      target: trained.version,
      after: comparison,
    });
    const decision =
      trained.version === activeVersion || !better
        ? "kept"
        : (await submitFromCli(config, pool, "model.activate", { version: trained.version }))
          ? "activated"
          : "proposed";
    out(
      `candidate ${trained.version}: recall ${candidate} at ${budget} reviews per 1,000 on ${tail.rows} held-out transactions (${tail.fraud} fraud); active ${activeVersion ?? "none"}: ${active ?? "—"}`,
    );
    out(`retrain_candidate=${trained.version}`);
    out(`retrain_candidate_recall=${candidate}`);
    out(`retrain_active_recall=${active ?? "none"}`);
    out(`retrain_decision=${decision}`);
  });
}

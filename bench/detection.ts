import { writeFileSync } from "node:fs";
import { sql } from "slonik";
import { z } from "zod";
import { scoringDeps, startConsumer } from "../src/consumer/main.ts";
import type { Label } from "../src/domain/case.ts";
import { withAdmin } from "../src/kafka/admin.ts";
import { resolveRanges } from "../src/kafka/range-reader.ts";
import { createLogger } from "../src/logger.ts";
import {
  type Evaluation,
  evaluation,
  MODEL_DECLINE_PER_1000,
  MODEL_FLAG_PER_1000,
} from "../src/model/evaluate.ts";
import { scoringModel } from "../src/model/model.ts";
import { auc, scoreRows, trainModel } from "../src/model/train.ts";
import { loadTrainingSet } from "../src/model/training-data.ts";
import { replay } from "../src/ops/replay.ts";
import { defaultRuleSet } from "../src/rules/default-rule-set.ts";
import { type RuleSet, ruleSetVersion } from "../src/rules/rule-language.ts";
import { readRuleSetFile } from "../src/rules/rules-command.ts";
import { type ScoringRules, scoringRules } from "../src/rules/scoring-rules.ts";
import type { Runtime } from "../src/runtime.ts";
import { createRuntime } from "../src/runtime.ts";
import { writeSimulation } from "../src/simulate/simulate-command.ts";
import { fraudKnownBy, type SimOptions, simulate, type Truth } from "../src/simulate/simulator.ts";
import { TYPOLOGIES } from "../src/simulate/typologies.ts";
import { createSandbox, type Services } from "../src/stack/sandbox.ts";
import { svg } from "./lib/charts.ts";
import { benchServices, log } from "./lib/services.ts";

/*
 * `npm run bench:detection [-- --quick]` (issue 24): a simulated month (`sentinel simulate`'s
 * generator, seeded) through the live scorer — a sandbox whose topic takes the producers' clocks —
 * and every decision held against the truth, on the held-out days 21–30: recall, precision, F1,
 * the false-positive rate on legitimate transactions, reviews per 1,000 transactions and the
 * confusion matrix, overall and per typology, for the active rule set (the default one). A flagged
 * transaction is one decided review or decline.
 *
 * Then the learned score: a model trained on days 1–20 (the simulator's truth as labels, features
 * from what the pipeline stored) and the held-out days decided again by the default rule set with
 * that model, through the backtest (a replay of days 21–30 that re-decides with a candidate and
 * stores nothing live): the same figures for rules + model. `-- --rules candidate.json` adds a
 * candidate rule set, backtested the same way (with the same model), side by side.
 */

const sqlCount = sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM decisions WHERE live`;
const sqlDecisions = sql.type(z.object({ id: z.string(), decision: z.string() }))`
  SELECT transaction_id::text AS id, decision FROM decisions WHERE live`;

type Decision = "approve" | "review" | "decline";
type Row = { label: Truth["label"]; decision: Decision };

export type DetectionFigures = {
  transactions: number;
  fraud: number;
  recall: number;
  precision: number;
  f1: number;
  fpr: number;
  reviewPer1000: number;
  confusion: Record<"fraud" | "legit", Record<Decision, number>>;
  perTypology: Array<{ typology: string; count: number; recall: number } & Record<Decision, number>>;
};

export type DetectionReport = DetectionFigures & {
  model: DetectionFigures & { training: ModelTraining };
  /** A candidate rule set (`--rules file.json`) with the same model, when one was given. */
  candidate?: DetectionFigures & { version: string };
};

const round = (n: number, d = 4) => Math.round(n * 10 ** d) / 10 ** d;

export function detectionFigures(rows: readonly Row[]): DetectionFigures {
  const flagged = (r: Row) => r.decision !== "approve";
  const fraud = rows.filter((r) => r.label !== "legit");
  const legit = rows.filter((r) => r.label === "legit");
  const tp = fraud.filter(flagged).length;
  const fp = legit.filter(flagged).length;
  const recall = fraud.length === 0 ? 0 : tp / fraud.length;
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const count = (list: readonly Row[]) => ({
    approve: list.filter((r) => r.decision === "approve").length,
    review: list.filter((r) => r.decision === "review").length,
    decline: list.filter((r) => r.decision === "decline").length,
  });
  return {
    transactions: rows.length,
    fraud: fraud.length,
    recall: round(recall),
    precision: round(precision),
    f1: round(recall + precision === 0 ? 0 : (2 * recall * precision) / (recall + precision)),
    fpr: round(legit.length === 0 ? 0 : fp / legit.length, 5),
    reviewPer1000: round(
      (rows.filter((r) => r.decision === "review").length / Math.max(1, rows.length)) * 1000,
      2,
    ),
    confusion: { fraud: count(fraud), legit: count(legit) },
    perTypology: TYPOLOGIES.map((typology) => {
      const of = rows.filter((r) => r.label === typology);
      return {
        typology,
        count: of.length,
        recall: round(of.filter(flagged).length / Math.max(1, of.length)),
        ...count(of),
      };
    }).filter((t) => t.count > 0),
  };
}

export type ModelTraining = {
  version: string;
  /** model.score at or above which a transaction is reviewed (chosen on days 16–20 for the budget). */
  reviewThreshold: number;
  /** model.score at or above which a transaction is declined (the model's own level, or RULES_MODEL_DECLINE if lower). */
  declineThreshold: number;
  /** The model alone on the held-out days (issue 36): AUC, PR-AUC, recall at 1, 2, 5 reviews per 1,000. */
  heldOut: Evaluation;
  rows: number;
  fraud: number;
  trainingAuc: number | null;
  seconds: number;
  featureSeconds: number;
};

/**
 * Trains on [startMs, startMs + trainMs) with the truth as labels, then re-decides everything
 * received after it with the default rules + that model (the backtest: nothing stored live).
 */
async function withModel(rt: Runtime, truth: readonly Truth[], startMs: number, trainMs: number) {
  const labels = new Map<string, Label>(
    truth.map((t) => [t.transaction_id, t.label === "legit" ? "legitimate" : "fraud"]),
  );
  // What the bank knows when it trains (the end of day 20): in the noisy world a fraud's label
  // arrives days later or never, and a transaction nobody disputed counts as legitimate.
  const trainDays = trainMs / 86_400_000;
  const known = new Map<string, Label>(
    truth.map((t) => [t.transaction_id, fraudKnownBy(t, trainDays) ? "fraud" : "legitimate"]),
  );
  const trained = await trainModel({
    pool: rt.pool,
    fromMs: startMs,
    toMs: startMs + trainMs,
    labels: known,
    // The tail of days 1–20 (days 16–20) is held out of training: the model's review threshold is
    // chosen on it for a budget (evaluate.ts's MODEL_FLAG_PER_1000), never on the days it is measured on.
    holdout: 0.25,
    onlyGivenLabels: true,
    fxRates: rt.config.rules.fxRates,
    labelsName: "simulator truth",
  });
  log(
    `detection: model ${trained.version} trained on ${trained.summary.rows} transactions (${trained.summary.fraud} fraud) in ${trained.summary.seconds} s, training AUC ${trained.summary.trainingAuc}`,
  );
  const model = scoringModel(trained.document, trained.version);
  // The default rules with the model's own levels (RULES_MODEL_OWN_THRESHOLDS): chosen on days
  // 16–20, its held-out tail, with what the bank knew by day 20 — never on the days measured.
  const operating = trained.document.training.holdout?.operating;
  const reviewThreshold = Math.min(operating?.review ?? 1, Number(rt.config.rules.modelReview));
  const declineThreshold = Math.min(operating?.decline ?? 1, Number(rt.config.rules.modelDecline));
  const settings = { ...rt.config.rules, modelOwnThresholds: true };
  log(
    `detection: the model flags ${operating?.flagPer1000} per 1,000 on days 16–20 from ${reviewThreshold}, declines ${operating?.declinePer1000} per 1,000 from ${declineThreshold}`,
  );
  const heldOut = truth.filter((t) => t.day > trainDays);
  // The model's own ranking on the days it never saw, at the review budgets (its threshold apart).
  const tail = await loadTrainingSet({
    pool: rt.pool,
    fromMs: startMs + trainMs,
    toMs: startMs + 366 * 86_400_000,
    labels,
    onlyGivenLabels: true,
    fxRates: rt.config.rules.fxRates,
  });
  const scores = scoreRows(trained.document, tail);
  const heldOutFigures = evaluation(scores, tail.y, auc(scores, tail.y));
  log(`detection: model alone on the held-out days: ${JSON.stringify(heldOutFigures)}`);
  const decided = await backtestHeldOut(rt, heldOut, startMs + trainMs, (lists) =>
    scoringRules(defaultRuleSet(settings), rt.config.rules.fxRates, lists, "rules+model", model),
  );
  const training: ModelTraining = {
    version: trained.version,
    heldOut: heldOutFigures,
    reviewThreshold,
    declineThreshold,
    ...trained.summary,
  };
  return { training, decided, model };
}

/**
 * Re-decides everything received from `fromMs` on with a candidate (the backtest: a replay that
 * stores nothing live) and returns each transaction's candidate decision.
 * @throws Error when a held-out transaction was left undecided.
 */
async function backtestHeldOut(
  rt: Runtime,
  heldOut: readonly Truth[],
  fromMs: number,
  candidate: (lists: ScoringRules["context"]["lists"]) => ScoringRules,
): Promise<Map<string, Decision>> {
  const deps = await scoringDeps(rt);
  const { topics } = rt.config.kafka;
  const ranges = await withAdmin(rt.kafka, (admin) =>
    resolveRanges(admin, topics.transactions, { from: { kind: "time", ms: fromMs } }),
  );
  const decided = new Map<string, Decision>();
  let summary: Awaited<ReturnType<typeof replay>>;
  try {
    summary = await replay({
      kafka: rt.kafka,
      producer: rt.producer.producer,
      topics,
      ranges,
      scoring: { ...deps, rules: candidate(deps.rules.context.lists) },
      redecide: true,
      dryRun: false,
      backtest: true,
      chunkSize: rt.config.consumer.chunkSize,
      maxRequestBytes: rt.config.producer.maxBatchBytes,
      alreadyDeadLettered: new Set(),
      onRedecided: (before, after) => decided.set(before.transaction_id, after.decision),
      logger: rt.logger,
    });
  } finally {
    deps.stop();
  }
  const missing = heldOut.filter((t) => !decided.has(t.transaction_id));
  log(
    `detection: backtest read ${summary.read} messages (ranges ${JSON.stringify(ranges.map((r) => [r.partition, String(r.start), String(r.end)]))}), re-decided ${decided.size}, stored before ${summary.alreadyStored}, not stored ${summary.notStored}, duplicates ${summary.duplicates}, dead letters ${summary.deadLettered}`,
  );
  if (missing.length > 0)
    throw new Error(
      `the backtest left ${missing.length} held-out transactions undecided (first: ${missing[0]!.transaction_id})`,
    );
  return decided;
}

export async function benchDetection(
  services: Services,
  {
    users = 5_000,
    days = 30,
    seed = 24,
    world = "clean",
    candidate,
  }: {
    users?: number;
    days?: number;
    seed?: number;
    world?: SimOptions["world"];
    candidate?: { version: string; ruleSet: RuleSet };
  } = {},
): Promise<DetectionReport> {
  const day = 86_400_000;
  const startMs = Math.floor(Date.now() / day) * day - days * day;
  const sim = simulate({ seed, users, days, startMs, world });
  log(
    `detection: ${world} world, seed ${seed}: ${sim.transactions.length} simulated transactions, ${users} users, ${days} days`,
  );
  const sandbox = await createSandbox(services, {
    prefix: "bench",
    overrides: {
      TOPIC_TRANSACTIONS_TIMESTAMP_TYPE: "CreateTime",
      TIMESTAMP_MAX_AGE_HOURS: String((days + 2) * 24),
      LOG_LEVEL: "warn",
    },
  });
  const rt = await createRuntime(sandbox.config, createLogger(sandbox.config, "bench"));
  try {
    await rt.producer.ready(30_000);
    await writeSimulation(rt, sim);
    const scorer = await startConsumer(rt);
    try {
      const deadline = Date.now() + 900_000;
      for (;;) {
        const n = Number(await rt.pool.oneFirst(sqlCount));
        if (n >= sim.transactions.length) break;
        if (Date.now() > deadline)
          throw new Error(`only ${n} of ${sim.transactions.length} decided after 15 min`);
        await new Promise((r) => setTimeout(r, 1_000));
      }
    } finally {
      await scorer.stop();
    }
    const decided = new Map(
      (await rt.pool.any(sqlDecisions)).map((r) => [
        (r as { id: string }).id,
        (r as { decision: Decision }).decision,
      ]),
    );
    const heldOut = sim.truth.filter((t) => t.day >= 21);
    const rules = detectionFigures(
      heldOut.map((t) => ({ label: t.label, decision: decided.get(t.transaction_id)! })),
    );
    const model = await withModel(rt, sim.truth, startMs, 20 * day);
    const figuresOf = (d: ReadonlyMap<string, Decision>) =>
      detectionFigures(heldOut.map((t) => ({ label: t.label, decision: d.get(t.transaction_id)! })));
    // A candidate rule set (--rules), backtested the same way, with the trained model for its
    // model.score: side by side with the active set.
    const other = candidate
      ? await backtestHeldOut(rt, heldOut, startMs + 20 * day, (lists) =>
          scoringRules(candidate.ruleSet, rt.config.rules.fxRates, lists, candidate.version, model.model),
        )
      : undefined;
    return {
      ...rules,
      model: { training: model.training, ...figuresOf(model.decided) },
      ...(candidate && other ? { candidate: { version: candidate.version, ...figuresOf(other) } } : {}),
    };
  } finally {
    await rt.close();
    await sandbox.cleanup();
  }
}

export function detectionLines(f: DetectionReport): Record<string, number> {
  return {
    detection_recall: f.recall,
    detection_precision: f.precision,
    detection_fpr: f.fpr,
    detection_review_per_1000: f.reviewPer1000,
    detection_model_recall: f.model.recall,
    detection_model_precision: f.model.precision,
    detection_model_fpr: f.model.fpr,
    detection_model_review_per_1000: f.model.reviewPer1000,
    detection_model_auc_held_out: f.model.training.heldOut.auc ?? 0,
    detection_model_pr_auc_held_out: f.model.training.heldOut.prAuc ?? 0,
    ...Object.fromEntries(
      f.model.training.heldOut.atReviews.map((a) => [
        `detection_model_recall_at_${a.reviewPer1000}_per_1000`,
        a.recall,
      ]),
    ),
  };
}

const figuresLine = (name: string, f: DetectionFigures) =>
  `${name}: recall ${f.recall}, precision ${f.precision}, F1 ${f.f1}, FPR ${f.fpr}, reviews per 1,000: ${f.reviewPer1000}`;

export function detectionTable(f: DetectionReport): string {
  const head =
    "| typology | transactions | recall (rules) | recall (rules + model) | approve | review | decline | approve | review | decline |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |";
  const rows = f.perTypology.map((t, i) => {
    const m = f.model.perTypology[i]!;
    return `| ${t.typology} | ${t.count} | ${t.recall} | ${m.recall} | ${t.approve} | ${t.review} | ${t.decline} | ${m.approve} | ${m.review} | ${m.decline} |`;
  });
  const legit = f.confusion.legit;
  const ml = f.model.confusion.legit;
  const tr = f.model.training;
  return [
    `held-out days 21–30: ${f.transactions} transactions, ${f.fraud} fraudulent`,
    "",
    `- ${figuresLine("rules alone", f)}`,
    `- ${figuresLine(`rules + model ${tr.version}`, f.model)}`,
    ...(f.candidate ? [`- ${figuresLine(`candidate ${f.candidate.version} + model`, f.candidate)}`] : []),
    `- model trained on days 1–15: ${tr.rows} transactions (${tr.fraud} fraud), training AUC ${tr.trainingAuc}, ${tr.seconds} s (features ${tr.featureSeconds} s); model.score review ≥ ${tr.reviewThreshold}, decline ≥ ${tr.declineThreshold} (the model's own levels: ${MODEL_FLAG_PER_1000} and ${MODEL_DECLINE_PER_1000} per 1,000 on days 16–20, or 0.7 and 0.95 if lower)`,
    "",
    "Outcomes: rules alone (first three), rules + model (last three).",
    "",
    head,
    ...rows,
    `| legit | ${legit.approve + legit.review + legit.decline} | — | — | ${legit.approve} | ${legit.review} | ${legit.decline} | ${ml.approve} | ${ml.review} | ${ml.decline} |`,
  ].join("\n");
}

/** The report's chart: recall per typology and overall precision and recall, rules alone beside rules + model. */
export function detectionChart(f: DetectionReport): Promise<string> {
  const values = [
    ...f.perTypology.flatMap((t, i) => [
      { measure: `recall: ${t.typology} (${t.count})`, run: "rules alone", value: t.recall },
      {
        measure: `recall: ${t.typology} (${t.count})`,
        run: "rules + model",
        value: f.model.perTypology[i]!.recall,
      },
    ]),
    { measure: "recall: overall", run: "rules alone", value: f.recall },
    { measure: "recall: overall", run: "rules + model", value: f.model.recall },
    { measure: "precision: overall", run: "rules alone", value: f.precision },
    { measure: "precision: overall", run: "rules + model", value: f.model.precision },
  ];
  return svg({
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Detection on the held-out days 21–30: rules alone vs rules + model",
    data: { values },
    width: 360,
    mark: "bar",
    encoding: {
      y: { field: "measure", type: "nominal", title: null, sort: null, axis: { labelLimit: 260 } },
      yOffset: { field: "run", type: "nominal" },
      x: { field: "value", type: "quantitative", title: null, scale: { domain: [0, 1] } },
      color: { field: "run", type: "nominal", title: null },
    },
  });
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const k = process.argv.indexOf("--rules");
  const candidate = k > 0 ? await readRuleSetFile(process.argv[k + 1]!) : undefined;
  const services = await benchServices();
  const figures = await benchDetection(services, {
    ...(quick ? { users: 1_000 } : {}),
    ...(candidate ? { candidate: { version: ruleSetVersion(candidate), ruleSet: candidate } } : {}),
  });
  process.stderr.write(`${detectionTable(figures)}\n`);
  const chart = new URL(`./results/${quick ? "quick-" : ""}detection.svg`, import.meta.url).pathname;
  writeFileSync(chart, await detectionChart(figures));
  writeFileSync(chart.replace(/\.svg$/, ".json"), `${JSON.stringify(figures, null, 2)}\n`);
  log(`detection: chart ${chart}`);
  // The noisy world over three seeds (issue 36); its lines close the output.
  const { benchNoisyDetection, noisyLines, noisyTable } = await import("./detection-noisy.ts");
  const noisy = await benchNoisyDetection(services, benchDetection, quick ? { users: 1_000 } : {});
  process.stderr.write(`${noisyTable(noisy)}\n`);
  writeFileSync(
    chart.replace(/detection\.svg$/, "detection-noisy.json"),
    `${JSON.stringify(noisy, null, 2)}\n`,
  );
  for (const [k, v] of Object.entries({ ...detectionLines(figures), ...noisyLines(noisy) }))
    console.log(`${k}=${v}`);
}

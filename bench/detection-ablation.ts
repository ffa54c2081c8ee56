import { parseArgs } from "node:util";
import { EntityTimeline } from "../src/model/entity-features.ts";
import { operatingPoint } from "../src/model/evaluate.ts";
import type { TrainOptions } from "../src/model/gbdt.ts";
import { scoreRows, trainOnDataset } from "../src/model/train.ts";
import { createFeatureWriter, splitByTime } from "../src/model/training-data.ts";
import { profileOf } from "../src/simulate/population.ts";
import { fraudKnownBy, simulate } from "../src/simulate/simulator.ts";

/*
 * One change at a time, the model alone (issue 36): the noisy world simulated in process (no
 * Kafka, no database), the features computed as the trainer computes them (the user's history
 * through createFeatureWriter, the entity features through EntityTimeline), a model trained on
 * days 1–15 with the labels known by day 20, its thresholds chosen on days 16–20 for 1, 2, 3 and
 * 5 flagged per 1,000, and its recall and false-positive rate on days 21–30 at each. Seconds per
 * seed, where `npm run bench:detection` takes minutes: for comparing training options and
 * features, not for the figures of record (those go through the pipeline).
 *
 *   node bench/detection-ablation.ts [--seeds 36,37,38] [--no-entities] [--options '{"trees":60,"learningRate":0.25}']
 */

const DAY = 86_400_000;
const BUDGETS = [1, 2, 3, 5];

function features(seed: number, startMs: number, entities: boolean) {
  const sim = simulate({ seed, users: 5_000, days: 30, startMs, world: "noisy" });
  const truth = new Map(sim.truth.map((t) => [t.transaction_id, t]));
  const profiles = new Map(sim.users.map((u) => [u.userId, { ...profileOf(u), user_id: u.userId }]));
  // Received order, as the scorer and the trainer read it.
  const txs = sim.transactions
    .map((t, i) => ({ t, ms: Date.parse(t.timestamp), i }))
    .sort((a, b) => a.ms - b.ms || a.i - b.i);
  const timeline = new EntityTimeline();
  const values = new Map(
    txs.map(({ t, ms }) => [
      t.transaction_id,
      timeline.observe({
        transactionId: t.transaction_id,
        user: t.user_id,
        receivedMs: ms,
        merchant_id: t.merchant_id,
        device_id: t.device_id,
      }),
    ]),
  );
  const writer = createFeatureWriter(txs.length, {});
  const byUser = txs.toSorted((a, b) => a.t.user_id.localeCompare(b.t.user_id) || a.ms - b.ms || a.i - b.i);
  for (const { t, ms } of byUser) {
    const known = truth.get(t.transaction_id)!;
    // Days 1–20: what the bank knew by day 20; days 21–30: the truth, to measure against.
    const fraud = known.day <= 20 ? fraudKnownBy(known, 20) : known.label !== "legit";
    const { transaction_id, user_id, timestamp: _, ...fields } = t;
    writer.add(
      user_id,
      {
        transactionId: transaction_id,
        receivedMs: ms,
        ...fields,
        ...(entities ? { entities: values.get(transaction_id)! } : {}),
      },
      (profiles.get(user_id) as never) ?? null,
      fraud ? "fraud" : "legitimate",
    );
  }
  const { head, tail: test } = splitByTime(writer.result(), startMs + 20 * DAY);
  const { head: train, tail: validation } = splitByTime(head, startMs + 15 * DAY);
  return { train, validation, test };
}

/** Recall and false-positive rate (%) on the test days at each budget's threshold from validation. */
function atBudgets(options: Partial<TrainOptions>, sets: ReturnType<typeof features>): number[] {
  const trained = trainOnDataset(sets.train, { from: "", to: "", labels: "truth" }, options);
  const validation = scoreRows(trained.document, sets.validation);
  const test = scoreRows(trained.document, sets.test);
  return BUDGETS.flatMap((reviewPer1000) => {
    const threshold = operatingPoint(validation, sets.validation.y, { reviewPer1000 }).threshold;
    let tp = 0;
    let fp = 0;
    let fraud = 0;
    for (let r = 0; r < sets.test.rows; r++) {
      const flagged = test[r]! >= threshold;
      if (sets.test.y[r]) {
        fraud++;
        if (flagged) tp++;
      } else if (flagged) fp++;
    }
    return [tp / Math.max(1, fraud), (100 * fp) / Math.max(1, sets.test.rows - fraud)];
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      seeds: { type: "string", default: "36,37,38" },
      "no-entities": { type: "boolean", default: false },
      options: { type: "string", default: "{}" },
    },
  });
  const options = JSON.parse(values.options) as Partial<TrainOptions>;
  const seeds = values.seeds.split(",").map(Number);
  const startMs = Math.floor(Date.now() / DAY) * DAY - 30 * DAY;
  const rows = seeds.map((seed) => {
    const row = atBudgets(options, features(seed, startMs, !values["no-entities"]));
    console.log(`seed ${seed}: ${row.map((v) => v.toFixed(4)).join(" ")}`);
    return row;
  });
  const mean = rows[0]!.map((_, k) => rows.reduce((n, r) => n + r[k]!, 0) / rows.length);
  BUDGETS.forEach((b, k) => {
    console.log(`ablation_recall_at_${b}_per_1000=${mean[2 * k]!.toFixed(4)}`);
    console.log(`ablation_fpr_pct_at_${b}_per_1000=${mean[2 * k + 1]!.toFixed(4)}`);
  });
}

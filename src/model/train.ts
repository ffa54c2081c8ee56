import { referenceOf } from "./drift.ts";
import { evaluation, modelOperating } from "./evaluate.ts";
import { FEATURES } from "./features.ts";
import { margin, sigmoid } from "./forest.ts";
import { type Dataset, DEFAULT_TRAIN, type TrainOptions, trainForest } from "./gbdt.ts";
import { MODEL_FORMAT, type ModelDocument, modelVersion, scoringModel } from "./model.ts";
import { loadTrainingSet, splitByTime, type TrainingSource } from "./training-data.ts";

/*
 * `sentinel model train` without the CLI (issue 24): the labelled transactions of a range and their
 * features (training-data.ts), a forest (gbdt.ts), the model document and its version. Saving and
 * activating are the caller's.
 */

/** The area under the ROC curve of margins against 0/1 labels (ties counted half), or null without both classes. */
export function auc(scores: Float64Array, y: Uint8Array): number | null {
  const order = Array.from(scores.keys()).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  for (const v of y) positives += v;
  const negatives = y.length - positives;
  if (positives === 0 || negatives === 0) return null;
  let rankSum = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (y[order[k]!] === 1) rankSum += rank;
    i = j + 1;
  }
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export type Trained = {
  version: string;
  document: ModelDocument;
  summary: {
    rows: number;
    fraud: number;
    users: number;
    trainingAuc: number | null;
    /** Out-of-time figures on the held-out tail (absent when nothing was held out). */
    holdout?: ModelDocument["training"]["holdout"];
    seconds: number;
    featureSeconds: number;
  };
};

/** Trains on a dataset already built (the bench's in-memory path, and the tests'). */
export function trainOnDataset(
  data: Dataset,
  meta: { from: string; to: string; labels: string },
  options: Partial<TrainOptions> = {},
  onTree?: (done: number, total: number) => void,
): { version: string; document: ModelDocument; seconds: number } {
  const started = performance.now();
  const o = { ...DEFAULT_TRAIN, ...options };
  const forest = trainForest(data, o, onTree);
  const margins = new Float64Array(data.rows);
  for (let r = 0; r < data.rows; r++)
    margins[r] = margin(forest, data.x.subarray(r * data.width, (r + 1) * data.width));
  let fraud = 0;
  for (const v of data.y) fraud += v;
  const seconds = Math.round((performance.now() - started) / 10) / 100;
  const a = auc(margins, data.y);
  const scores = margins.map((m) => sigmoid(m));
  const document: ModelDocument = {
    format: MODEL_FORMAT,
    kind: "gbdt",
    features: [...FEATURES],
    bias: forest.bias,
    trees: forest.trees,
    training: {
      ...meta,
      rows: data.rows,
      fraud,
      options: { ...o },
      trainingAuc: a === null ? null : Math.round(a * 10_000) / 10_000,
      reference: referenceOf(data, scores),
    },
  };
  return { version: modelVersion(document), document, seconds };
}

/** Scores every row of a set with the model (model.score, as the scorer computes it). */
export function scoreRows(document: ModelDocument, set: Dataset): Float64Array {
  const model = scoringModel(document, "evaluation");
  const scores = new Float64Array(set.rows);
  for (let r = 0; r < set.rows; r++)
    scores[r] = model.score(set.x.subarray(r * set.width, (r + 1) * set.width));
  return scores;
}

/** The model's figures on the held-out tail [cutoff, to): rows it never saw. */
function heldOutFigures(document: ModelDocument, tail: Dataset, cutoffMs: number, toMs: number) {
  const scores = scoreRows(document, tail);
  return {
    from: new Date(cutoffMs).toISOString(),
    to: new Date(toMs).toISOString(),
    ...evaluation(scores, tail.y, auc(scores, tail.y)),
    operating: modelOperating(scores, tail.y),
  };
}

/** Loads the range's labelled transactions and trains on them. @throws SentinelError / RangeError (no rows). */
export async function trainModel(
  src: TrainingSource & {
    labelsName: string;
    options?: Partial<TrainOptions>;
    /** The fraction of the range's time (its tail) held out of training and evaluated on (0: none). */
    holdout?: number;
    onTree?(done: number, total: number): void;
  },
): Promise<Trained> {
  const started = performance.now();
  const data = await loadTrainingSet(src);
  const featureSeconds = Math.round((performance.now() - started) / 10) / 100;
  if (data.rows === 0) throw new RangeError("no labelled transaction in the range");
  const holdout = src.holdout ?? 0;
  const cutoffMs = Math.round(src.fromMs + (1 - holdout) * (src.toMs - src.fromMs));
  const { head, tail } = holdout > 0 ? splitByTime(data, cutoffMs) : { head: data, tail: undefined };
  if (head.fraud === 0 || head.fraud === head.rows)
    throw new RangeError(
      `the ${head.rows} labelled transactions trained on${holdout > 0 ? ` (before ${new Date(cutoffMs).toISOString()}, the held-out tail apart)` : ""} are all of one label: a model needs both`,
    );
  const trained = trainOnDataset(
    head,
    {
      from: new Date(src.fromMs).toISOString(),
      to: new Date(src.toMs).toISOString(),
      labels: src.labelsName,
    },
    src.options,
    src.onTree,
  );
  if (tail) trained.document.training.holdout = heldOutFigures(trained.document, tail, cutoffMs, src.toMs);
  return {
    version: modelVersion(trained.document),
    document: trained.document,
    summary: {
      rows: head.rows,
      fraud: head.fraud,
      users: data.users,
      trainingAuc: trained.document.training.trainingAuc,
      ...(trained.document.training.holdout ? { holdout: trained.document.training.holdout } : {}),
      seconds: Math.round((performance.now() - started) / 10) / 100,
      featureSeconds,
    },
  };
}

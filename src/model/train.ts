import { FEATURES } from "./features.ts";
import { margin } from "./forest.ts";
import { type Dataset, DEFAULT_TRAIN, type TrainOptions, trainForest } from "./gbdt.ts";
import { MODEL_FORMAT, type ModelDocument, modelVersion } from "./model.ts";
import { loadTrainingSet, type TrainingSource } from "./training-data.ts";

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
    },
  };
  return { version: modelVersion(document), document, seconds };
}

/** Loads the range's labelled transactions and trains on them. @throws SentinelError / RangeError (no rows). */
export async function trainModel(
  src: TrainingSource & {
    labelsName: string;
    options?: Partial<TrainOptions>;
    onTree?(done: number, total: number): void;
  },
): Promise<Trained> {
  const started = performance.now();
  const data = await loadTrainingSet(src);
  const featureSeconds = Math.round((performance.now() - started) / 10) / 100;
  if (data.rows === 0) throw new RangeError("no labelled transaction in the range");
  if (data.fraud === 0 || data.fraud === data.rows)
    throw new RangeError(
      `the range's ${data.rows} labelled transactions are all of one label: a model needs both`,
    );
  const trained = trainOnDataset(
    data,
    {
      from: new Date(src.fromMs).toISOString(),
      to: new Date(src.toMs).toISOString(),
      labels: src.labelsName,
    },
    src.options,
    src.onTree,
  );
  return {
    version: trained.version,
    document: trained.document,
    summary: {
      rows: data.rows,
      fraud: data.fraud,
      users: data.users,
      trainingAuc: trained.document.training.trainingAuc,
      seconds: Math.round((performance.now() - started) / 10) / 100,
      featureSeconds,
    },
  };
}

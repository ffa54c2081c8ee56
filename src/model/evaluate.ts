/*
 * Honest figures for a model (issue 36): on rows it was not trained on (the held-out tail of its
 * range, or any labelled range), the ranking quality (ROC AUC, PR-AUC) and operating points — the
 * lowest threshold on model.score that stays within a review budget (flagged per 1,000
 * transactions) or a false-positive rate, and the recall it buys. A transaction is flagged when
 * its score is at or above the threshold. Pure functions over scores and 0/1 labels.
 */

export type Budget = { reviewPer1000: number } | { fpr: number };

export type OperatingPoint = {
  /** model.score at or above which a transaction is flagged (1.0001: none can be). */
  threshold: number;
  flagged: number;
  recall: number;
  precision: number | null;
  fpr: number;
  reviewPer1000: number;
};

const round = (n: number, d = 4) => Math.round(n * 10 ** d) / 10 ** d;

/** Row indexes by score, highest first. */
function byScore(scores: Float64Array): number[] {
  return Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]!);
}

/**
 * The lowest threshold whose flagged set meets `budget` (ties are flagged together, so a group of
 * equal scores that would exceed the budget is left out whole), with what it buys.
 */
export function operatingPoint(scores: Float64Array, y: Uint8Array, budget: Budget): OperatingPoint {
  const order = byScore(scores);
  const n = order.length;
  let positives = 0;
  for (const v of y) positives += v;
  const negatives = n - positives;
  const allowed =
    "reviewPer1000" in budget
      ? Math.floor((n * budget.reviewPer1000) / 1000)
      : Math.floor(negatives * budget.fpr);
  let best = { threshold: 1.0001, flagged: 0, tp: 0 };
  let flagged = 0;
  let tp = 0;
  for (let i = 0; i < n; ) {
    const score = scores[order[i]!]!;
    let j = i;
    while (j < n && scores[order[j]!] === score) {
      tp += y[order[j]!]!;
      j++;
    }
    flagged = j;
    const spent = "reviewPer1000" in budget ? flagged : flagged - tp;
    if (spent > allowed) break;
    best = { threshold: score, flagged, tp };
    i = j;
  }
  const fp = best.flagged - best.tp;
  return {
    threshold: round(best.threshold, 6),
    flagged: best.flagged,
    recall: positives === 0 ? 0 : round(best.tp / positives),
    precision: best.flagged === 0 ? null : round(best.tp / best.flagged),
    fpr: negatives === 0 ? 0 : round(fp / negatives, 6),
    reviewPer1000: n === 0 ? 0 : round((best.flagged / n) * 1000, 3),
  };
}

/** Average precision (the area under the precision-recall curve, step-wise); null without fraud. */
export function prAuc(scores: Float64Array, y: Uint8Array): number | null {
  const order = byScore(scores);
  let positives = 0;
  for (const v of y) positives += v;
  if (positives === 0) return null;
  let tp = 0;
  let sum = 0;
  for (let i = 0; i < order.length; ) {
    const score = scores[order[i]!]!;
    let j = i;
    let groupTp = 0;
    while (j < order.length && scores[order[j]!] === score) groupTp += y[order[j++]!]!;
    tp += groupTp;
    sum += groupTp * (tp / j);
    i = j;
  }
  return round(sum / positives);
}

/**
 * The operating point a trained model carries (issue 36): on its held-out days, the model.score
 * from which it flags MODEL_FLAG_PER_1000 per 1,000 (the default rules review from there) and
 * from which it flags the top MODEL_DECLINE_PER_1000 (declined). A model's scores sit where its
 * labels put them (a noisy world's frauds at 0.01–0.5), so a fixed 0.7 reviews nothing.
 */
export const MODEL_FLAG_PER_1000 = 3;
export const MODEL_DECLINE_PER_1000 = 1;

/** The model's own levels (model.ts's `training.holdout.operating` holds them). */
export function modelOperating(scores: Float64Array, y: Uint8Array) {
  return {
    flagPer1000: MODEL_FLAG_PER_1000,
    review: operatingPoint(scores, y, { reviewPer1000: MODEL_FLAG_PER_1000 }).threshold,
    declinePer1000: MODEL_DECLINE_PER_1000,
    decline: operatingPoint(scores, y, { reviewPer1000: MODEL_DECLINE_PER_1000 }).threshold,
  };
}

/** The review budgets (flagged per 1,000) every evaluation reports recall at. */
export const REVIEW_BUDGETS = [1, 2, 5] as const;

export type Evaluation = {
  rows: number;
  fraud: number;
  auc: number | null;
  prAuc: number | null;
  /** Recall at 1, 2 and 5 reviews per 1,000 transactions, with the threshold of each. */
  atReviews: Array<{ reviewPer1000: number; threshold: number; recall: number; precision: number | null }>;
};

/** The figures of scores against labels: AUC (given, from train.ts), PR-AUC, recall at the review budgets. */
export function evaluation(scores: Float64Array, y: Uint8Array, auc: number | null): Evaluation {
  let fraud = 0;
  for (const v of y) fraud += v;
  return {
    rows: y.length,
    fraud,
    auc: auc === null ? null : round(auc),
    prAuc: prAuc(scores, y),
    atReviews: REVIEW_BUDGETS.map((reviewPer1000) => {
      const p = operatingPoint(scores, y, { reviewPer1000 });
      return { reviewPer1000, threshold: p.threshold, recall: p.recall, precision: p.precision };
    }),
  };
}

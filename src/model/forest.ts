/*
 * A trained forest of gradient-boosted trees (gbdt.ts trains it) and what the scorer asks of it:
 * the margin, the probability and each feature's contribution, in a few array reads per tree.
 */

/** A tree in arrays: node i splits on feature[i] at x ≤ threshold[i] → left[i], else right[i]; leaves have feature −1. */
export type Tree = {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  /** The leaf's value, or for an internal node the hessian-weighted mean of its leaves (margin units). */
  value: number[];
};

export type Forest = { bias: number; trees: Tree[] };

/** The logistic function: a margin (log-odds) to a probability. */
export const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** The leaf of `tree` for feature vector `x`. */
function leafOf(tree: Tree, x: ArrayLike<number>): number {
  let n = 0;
  while (tree.feature[n]! >= 0)
    n = x[tree.feature[n]!]! <= tree.threshold[n]! ? tree.left[n]! : tree.right[n]!;
  return n;
}

/** The margin (log-odds) of `x`. */
export function margin(forest: Forest, x: ArrayLike<number>): number {
  let z = forest.bias;
  for (const tree of forest.trees) z += tree.value[leafOf(tree, x)]!;
  return z;
}

/** The probability of the positive label for `x`. */
export function predict(forest: Forest, x: ArrayLike<number>): number {
  return sigmoid(margin(forest, x));
}

/**
 * Each feature's contribution to the margin of `x` (into `out`, one per feature), and the margin
 * with no feature known (the bias plus every root's value): expected + Σ out = margin(x).
 */
export function contributions(forest: Forest, x: ArrayLike<number>, out: Float64Array): number {
  out.fill(0);
  let expected = forest.bias;
  for (const tree of forest.trees) {
    let n = 0;
    expected += tree.value[0]!;
    while (tree.feature[n]! >= 0) {
      const next = x[tree.feature[n]!]! <= tree.threshold[n]! ? tree.left[n]! : tree.right[n]!;
      out[tree.feature[n]!]! += tree.value[next]! - tree.value[n]!;
      n = next;
    }
  }
  return expected;
}

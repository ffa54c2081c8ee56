import { describe, expect, it } from "vitest";
import { evaluation, operatingPoint, prAuc } from "../../../src/model/evaluate.ts";
import { labelsDigest } from "../../../src/ops/backtest.ts";

/* Issue 36: honest figures — operating points within a review budget or an FPR, PR-AUC, and a label set's digest. */

// 1,000 rows: 10 fraud scored 0.99..0.90, 990 legitimate scored below, two of them high.
function world() {
  const scores = new Float64Array(1000);
  const y = new Uint8Array(1000);
  for (let i = 0; i < 10; i++) {
    scores[i] = 0.99 - i * 0.01;
    y[i] = 1;
  }
  for (let i = 10; i < 1000; i++) scores[i] = (i % 800) / 1000;
  scores[10] = 0.995; // a legitimate surprise above every fraud
  scores[11] = 0.955; // and one among them
  return { scores, y };
}

describe("model evaluation", () => {
  it("finds the lowest threshold within a review budget, and what it catches", () => {
    const { scores, y } = world();
    const p = operatingPoint(scores, y, { reviewPer1000: 5 });
    expect(p.flagged).toBe(5);
    expect(p.threshold).toBe(0.96);
    expect(p.recall).toBe(0.4); // 0.99, 0.98, 0.97, 0.96 of ten
    expect(p.precision).toBe(0.8);
    expect(p.reviewPer1000).toBe(5);
    const all = operatingPoint(scores, y, { reviewPer1000: 12 });
    expect(all.recall).toBe(1);
    expect(all.flagged).toBe(12);
  });

  it("finds the lowest threshold within a false-positive rate; ties are flagged together or not at all", () => {
    const { scores, y } = world();
    // 990 legitimate: 0.1 % allows none — the threshold stays above the surprise at 0.995.
    const none = operatingPoint(scores, y, { fpr: 0.001 });
    expect(none.flagged).toBe(0);
    expect(none.threshold).toBeGreaterThan(1);
    // 0.25 % allows two: every fraud is caught above the 0.79x legitimate scores.
    const two = operatingPoint(scores, y, { fpr: 0.0025 });
    expect(two.recall).toBe(1);
    expect(two.fpr).toBeCloseTo(2 / 990, 6);
    const tied = operatingPoint(Float64Array.from([0.9, 0.9, 0.9, 0.1]), Uint8Array.from([1, 0, 1, 0]), {
      reviewPer1000: 500,
    });
    expect(tied.flagged).toBe(0);
  });

  it("PR-AUC is 1 for a perfect order and falls when legitimate rows rank first; null without fraud", () => {
    expect(prAuc(Float64Array.from([0.9, 0.8, 0.1]), Uint8Array.from([1, 1, 0]))).toBe(1);
    expect(prAuc(Float64Array.from([0.9, 0.8, 0.1]), Uint8Array.from([0, 1, 1]))).toBeCloseTo(
      (1 / 2 + 2 / 3) / 2,
      4,
    );
    expect(prAuc(Float64Array.from([0.9]), Uint8Array.from([0]))).toBeNull();
    const e = evaluation(world().scores, world().y, 0.99);
    expect(e.atReviews.map((a) => a.reviewPer1000)).toEqual([1, 2, 5]);
    expect(e).toMatchObject({ rows: 1000, fraud: 10, auc: 0.99 });
  });

  it("names a label set by its content, not its file", () => {
    const a = new Map([
      ["b", "fraud" as const],
      ["a", "legitimate" as const],
    ]);
    const b = new Map([
      ["a", "legitimate" as const],
      ["b", "fraud" as const],
    ]);
    expect(labelsDigest(a)).toBe(labelsDigest(b));
    expect(labelsDigest(a)).not.toBe(labelsDigest(new Map([["a", "fraud" as const]])));
  });
});

import { describe, expect, it } from "vitest";
import { binOf, createDriftMonitor, psi, referenceOf } from "../../../src/model/drift.ts";
import { FEATURES } from "../../../src/model/features.ts";

/* Issue 36: drift — reference histograms, PSI, and a monitor that sees a shift and stays calm without one. */

const W = FEATURES.length;
/** Rows whose every feature is drawn from [lo, lo + 1), and scores likewise. */
function rows(n: number, lo: number, seed = 1) {
  let s = seed;
  const rand = () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
  const x = new Float64Array(n * W);
  for (let i = 0; i < x.length; i++) x[i] = lo + rand();
  const scores = Float64Array.from({ length: n }, () => Math.min(0.999, (lo + rand()) / 4));
  return { data: { x, y: new Uint8Array(n), rows: n, width: W }, scores };
}

describe("model drift", () => {
  it("bins by quantile cuts and scores PSI 0 for the same shares, high for a shift", () => {
    expect(binOf([1, 2, 3], 0.5)).toBe(0);
    expect(binOf([1, 2, 3], 2)).toBe(2);
    expect(binOf([1, 2, 3], 9)).toBe(3);
    expect(psi([0.5, 0.5], [50, 50])).toBe(0);
    expect(psi([0.5, 0.5], [90, 10])).toBeGreaterThan(0.25);
    expect(psi([0.5, 0.5], [])).toBe(0);
  });

  it("stays calm on data like the training rows, and names the feature that moved", () => {
    const { data, scores } = rows(5_000, 0);
    const reference = referenceOf(data, scores);
    expect(reference.features).toHaveLength(W);
    expect(reference.features[0]!.shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
    const same = createDriftMonitor(reference, { sampleEvery: 1 });
    const live = rows(4_000, 0, 7);
    for (let r = 0; r < live.data.rows; r++)
      same.observe(live.data.x.subarray(r * W, (r + 1) * W), live.scores[r]!);
    const calm = same.snapshot();
    expect(calm.rows).toBe(4_000);
    expect(calm.worst.psi).toBeLessThan(0.1);
    expect(calm.score).toBeLessThan(0.1);

    const moved = createDriftMonitor(reference, { sampleEvery: 1 });
    for (let r = 0; r < live.data.rows; r++) {
      const x = Float64Array.from(live.data.x.subarray(r * W, (r + 1) * W));
      x[3] = x[3]! + 0.6; // history_30d moved
      moved.observe(x, live.scores[r]!);
    }
    const drifted = moved.snapshot();
    expect(drifted.worst.feature).toBe(FEATURES[3]);
    expect(drifted.worst.psi).toBeGreaterThan(0.25);
  });
});

import { describe, expect, it } from "vitest";
import { contributions, margin, predict } from "../../../src/model/forest.ts";
import { type Dataset, trainForest } from "../../../src/model/gbdt.ts";
import { prng } from "../../../src/random.ts";

/** `rows` rows of `width` uniform features, labelled by `label`. */
function dataset(rows: number, width: number, seed: number, label: (x: Float64Array) => boolean): Dataset {
  const rand = prng(seed);
  const x = new Float64Array(rows * width);
  const y = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * width, (r + 1) * width);
    for (let f = 0; f < width; f++) row[f] = rand();
    y[r] = label(row) ? 1 : 0;
  }
  return { x, y, rows, width };
}

const accuracy = (forest: ReturnType<typeof trainForest>, d: Dataset) => {
  let right = 0;
  for (let r = 0; r < d.rows; r++) {
    const p = predict(forest, d.x.subarray(r * d.width, (r + 1) * d.width));
    if (p > 0.5 === (d.y[r] === 1)) right++;
  }
  return right / d.rows;
};

describe("gradient-boosted trees", () => {
  it("learns a threshold on one feature and ignores the others", () => {
    const d = dataset(4_000, 3, 1, (x) => x[1]! > 0.6);
    const forest = trainForest(d, { trees: 30 });
    expect(predict(forest, [0.5, 0.9, 0.5])).toBeGreaterThan(0.95);
    expect(predict(forest, [0.5, 0.3, 0.5])).toBeLessThan(0.05);
    // Only the deciding feature is ever split on: the others contribute nothing.
    const out = new Float64Array(3);
    contributions(forest, [0.1, 0.9, 0.8], out);
    expect(Math.abs(out[0]!)).toBe(0);
    expect(Math.abs(out[2]!)).toBe(0);
    expect(out[1]).toBeGreaterThan(2);
  });

  it("learns an interaction no linear score can (exclusive or), on held-out rows", () => {
    const xor = (x: Float64Array) => x[0]! > 0.5 !== x[1]! > 0.5;
    const train = dataset(5_000, 4, 2, xor);
    const test = dataset(2_000, 4, 3, xor);
    const forest = trainForest(train, { trees: 60, depth: 3 });
    expect(accuracy(forest, test)).toBeGreaterThan(0.97);
  });

  it("finds a rare positive class (0.5 % of rows) with its feature on top", () => {
    const d = dataset(20_000, 5, 4, (x) => x[3]! > 0.995);
    const forest = trainForest(d, { trees: 40 });
    expect(predict(forest, [0.5, 0.5, 0.5, 0.999, 0.5])).toBeGreaterThan(0.8);
    expect(predict(forest, [0.5, 0.5, 0.5, 0.5, 0.5])).toBeLessThan(0.01);
  });

  it("contributions plus the expected margin are the margin, exactly (to rounding)", () => {
    const d = dataset(3_000, 4, 5, (x) => x[0]! + x[1]! * x[2]! > 0.9);
    const forest = trainForest(d, { trees: 25, depth: 4 });
    const out = new Float64Array(4);
    for (const x of [
      [0.1, 0.2, 0.3, 0.4],
      [0.9, 0.9, 0.9, 0.1],
      [0.5, 0.7, 0.2, 0.6],
    ]) {
      const expected = contributions(forest, x, out);
      expect(expected + out.reduce((a, b) => a + b, 0)).toBeCloseTo(margin(forest, x), 9);
    }
  });

  it("is deterministic: the same data and options give the same trees", () => {
    const d = dataset(2_000, 3, 6, (x) => x[0]! > x[1]!);
    expect(JSON.stringify(trainForest(d, { trees: 10 }))).toBe(JSON.stringify(trainForest(d, { trees: 10 })));
  });

  it("refuses what it cannot train on", () => {
    expect(() => trainForest({ x: new Float64Array(), y: new Uint8Array(), rows: 0, width: 2 })).toThrow(
      /no training rows/,
    );
    const d = dataset(10, 2, 7, () => true);
    expect(() => trainForest(d, { bins: 200 })).toThrow(/bins/);
  });
});

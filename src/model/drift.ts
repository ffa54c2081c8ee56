import { z } from "zod";
import { FEATURES } from "./features.ts";
import type { Dataset } from "./gbdt.ts";

/*
 * Drift (issue 36): is the model still seeing the world it was trained on? Training stores a
 * reference — each feature's and the score's distribution over the training rows, as the shares of
 * a few quantile bins — in the model; a consumer scoring with the model counts a sample of live
 * rows in the same bins and reports the population stability index (PSI) of each against the
 * reference. Conventional reading: < 0.1 stable, 0.1–0.25 moving, > 0.25 drifted (the alert and
 * `sentinel model list` use 0.25). A feature that stops arriving upstream (a gateway no longer
 * sending device_id, say) shows as a jump of its PSI.
 */

export const DRIFT_THRESHOLD = 0.25;
const BINS = 10;
/** Shares below this count as this (an empty bin would make the PSI infinite). */
const FLOOR = 1e-4;

const Histogram = z.strictObject({
  /** Upper edges (exclusive) of all bins but the last, ascending and distinct. */
  cuts: z.array(z.number()).max(BINS),
  /** The share of the reference rows in each bin (cuts.length + 1 of them). */
  shares: z.array(z.number().min(0).max(1)),
});
export const ReferenceSchema = z.strictObject({
  rows: z.int().min(0),
  features: z.array(Histogram),
  score: Histogram,
});
export type Reference = z.output<typeof ReferenceSchema>;
type Hist = z.output<typeof Histogram>;

/** The bin of a value: the first whose upper edge is above it. */
export function binOf(cuts: readonly number[], v: number): number {
  let i = 0;
  while (i < cuts.length && v >= cuts[i]!) i++;
  return i;
}

function histogram(values: Float64Array): Hist {
  const sorted = Float64Array.from(values).sort();
  const cuts: number[] = [];
  for (let q = 1; q < BINS; q++) {
    const v = sorted[Math.floor((q * sorted.length) / BINS)];
    if (v !== undefined && Number.isFinite(v) && (cuts.length === 0 || v > cuts.at(-1)!)) cuts.push(v);
  }
  const counts = new Array<number>(cuts.length + 1).fill(0);
  for (const v of values) counts[binOf(cuts, v)]!++;
  const round = (n: number) => Math.round(n * 1e6) / 1e6;
  return {
    cuts: cuts.map((c) => round(c)),
    shares: counts.map((c) => round(c / Math.max(1, values.length))),
  };
}

/** The training rows' reference: each feature's histogram and the score's. */
export function referenceOf(data: Dataset, scores: Float64Array): Reference {
  const column = new Float64Array(data.rows);
  const features = FEATURES.map((_, f) => {
    for (let r = 0; r < data.rows; r++) column[r] = data.x[r * data.width + f]!;
    return histogram(column);
  });
  return { rows: data.rows, features, score: histogram(scores) };
}

/** The population stability index of live counts against reference shares. */
export function psi(shares: readonly number[], counts: readonly number[]): number {
  const total = counts.reduce((n, c) => n + c, 0);
  if (total === 0) return 0;
  let sum = 0;
  for (let i = 0; i < shares.length; i++) {
    const e = Math.max(FLOOR, shares[i]!);
    const a = Math.max(FLOOR, (counts[i] ?? 0) / total);
    sum += (a - e) * Math.log(a / e);
  }
  return Math.round(sum * 10_000) / 10_000;
}

export type DriftSnapshot = {
  rows: number;
  score: number;
  features: Record<string, number>;
  /** The feature with the highest PSI, and that PSI. */
  worst: { feature: string; psi: number };
};

/**
 * Live counts of a sample of the rows a model scores (every `sampleEvery`-th), in the reference's
 * bins; halved every `windowRows` counted rows, so the figures follow the recent traffic.
 */
export function createDriftMonitor(reference: Reference, { sampleEvery = 8, windowRows = 20_000 } = {}) {
  const features = reference.features.map((h) => new Array<number>(h.shares.length).fill(0));
  const score = new Array<number>(reference.score.shares.length).fill(0);
  let seen = 0;
  let counted = 0;
  const halve = () => {
    for (const c of [...features, score]) for (let i = 0; i < c.length; i++) c[i] = c[i]! / 2;
    counted /= 2;
  };
  return {
    observe(x: ArrayLike<number>, p: number): void {
      if (seen++ % sampleEvery !== 0) return;
      for (let f = 0; f < features.length; f++) features[f]![binOf(reference.features[f]!.cuts, x[f]!)]!++;
      score[binOf(reference.score.cuts, p)]!++;
      if (++counted >= windowRows) halve();
    },
    snapshot(): DriftSnapshot {
      const byFeature: Record<string, number> = {};
      let worst = { feature: "", psi: 0 };
      // A model trained before features were added has a reference for the first of them only.
      reference.features.forEach((h, f) => {
        const name = FEATURES[f]!;
        const v = psi(h.shares, features[f]!);
        byFeature[name] = v;
        if (v > worst.psi) worst = { feature: name, psi: v };
      });
      return {
        rows: Math.round(counted),
        score: psi(reference.score.shares, score),
        features: byFeature,
        worst,
      };
    },
  };
}
export type DriftMonitor = ReturnType<typeof createDriftMonitor>;

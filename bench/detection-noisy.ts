import type { Services } from "../src/stack/sandbox.ts";
import type { benchDetection, DetectionFigures, DetectionReport } from "./detection.ts";
import { log } from "./lib/services.ts";

/*
 * Issue 36: detection on two worlds. The clean one (`sentinel simulate`'s steady habits, seven
 * typologies) once, and the noisy one (legitimate surprises, three more typologies hiding among
 * them, labels late or never: src/simulate/surprises.ts) over several seeds — each seed a world of
 * its own, simulated, scored live, a model trained on days 1–20 with the labels known by then, and
 * days 21–30 decided again with it. The noisy figures are the mean over the seeds, with the spread.
 */

export type Spread = { mean: number; min: number; max: number };
export type NoisyReport = {
  seeds: number[];
  runs: DetectionReport[];
  rules: Record<"recall" | "precision" | "fpr" | "reviewPer1000", Spread>;
  model: Record<"recall" | "precision" | "fpr" | "reviewPer1000", Spread>;
  /** Mean recall per typology over the seeds where it occurred, rules alone and rules + model. */
  perTypology: Array<{ typology: string; count: number; rules: number; model: number }>;
};

const round = (n: number, d = 4) => Math.round(n * 10 ** d) / 10 ** d;

function spread(values: number[], d = 4): Spread {
  return {
    mean: round(values.reduce((a, b) => a + b, 0) / Math.max(1, values.length), d),
    min: round(Math.min(...values), d),
    max: round(Math.max(...values), d),
  };
}

function figures(list: DetectionFigures[]) {
  return {
    recall: spread(list.map((f) => f.recall)),
    precision: spread(list.map((f) => f.precision)),
    fpr: spread(
      list.map((f) => f.fpr),
      6,
    ),
    reviewPer1000: spread(
      list.map((f) => f.reviewPer1000),
      2,
    ),
  };
}

/** `detect` is bench/detection.ts's benchDetection (passed in: that module runs this one). */
export async function benchNoisyDetection(
  services: Services,
  detect: typeof benchDetection,
  { users = 5_000, seeds = [36, 37, 38] }: { users?: number; seeds?: number[] } = {},
): Promise<NoisyReport> {
  const runs: DetectionReport[] = [];
  for (const seed of seeds) {
    log(`detection: noisy world, seed ${seed}`);
    runs.push(await detect(services, { users, seed, world: "noisy" }));
  }
  const names = [...new Set(runs.flatMap((r) => r.perTypology.map((t) => t.typology)))];
  const perTypology = names.map((typology) => {
    const of = runs.flatMap((r) => {
      const i = r.perTypology.findIndex((t) => t.typology === typology);
      return i < 0 ? [] : [{ rules: r.perTypology[i]!, model: r.model.perTypology[i]! }];
    });
    return {
      typology,
      count: of.reduce((a, x) => a + x.rules.count, 0),
      rules: spread(of.map((x) => x.rules.recall)).mean,
      model: spread(of.map((x) => x.model.recall)).mean,
    };
  });
  return { seeds, runs, rules: figures(runs), model: figures(runs.map((r) => r.model)), perTypology };
}

/** The closing lines of the noisy world (rules + model, the mean over the seeds), then its spread. */
export function noisyLines(n: NoisyReport): Record<string, number | string> {
  const range = (s: Spread) => `${s.min}-${s.max}`;
  return {
    detection_noisy_seeds: n.seeds.length,
    detection_noisy_rules_recall: n.rules.recall.mean,
    detection_noisy_rules_fpr: n.rules.fpr.mean,
    detection_noisy_recall_spread: range(n.model.recall),
    detection_noisy_fpr_spread: range(n.model.fpr),
    detection_noisy_typologies_below_rules: n.perTypology.filter((t) => t.model < t.rules).length,
    detection_noisy_recall: n.model.recall.mean,
    detection_noisy_fpr: n.model.fpr.mean,
    detection_noisy_review_per_1000: n.model.reviewPer1000.mean,
    detection_noisy_precision: n.model.precision.mean,
  };
}

/** The noisy world as markdown: the mean figures with their spread, and recall per typology. */
export function noisyTable(n: NoisyReport): string {
  const cell = (s: Spread) => `${s.mean} (${s.min}–${s.max})`;
  const row = (name: string, f: NoisyReport["rules"]) =>
    `| ${name} | ${cell(f.recall)} | ${cell(f.precision)} | ${cell(f.fpr)} | ${cell(f.reviewPer1000)} |`;
  return [
    `Noisy world, seeds ${n.seeds.join(", ")}, held-out days 21–30 (mean, and the range over the seeds):`,
    "",
    "| | recall | precision | FPR | reviews per 1,000 |",
    "| --- | --- | --- | --- | --- |",
    row("rules alone", n.rules),
    row("rules + model", n.model),
    "",
    "| typology | fraudulent transactions (all seeds) | recall, rules alone | recall, rules + model |",
    "| --- | --- | --- | --- |",
    ...n.perTypology.map((t) => `| ${t.typology} | ${t.count} | ${t.rules} | ${t.model} |`),
  ].join("\n");
}

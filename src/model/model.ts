import { z } from "zod";
import { contentAddress } from "../artefacts/content-address.ts";
import { ReferenceSchema } from "./drift.ts";
import { FEATURES, type FeatureName } from "./features.ts";
import { contributions, type Forest } from "./forest.ts";

/*
 * A learned model as data (issue 24): a JSON document — the feature list it was trained on, the
 * forest, and what it was trained on (range, rows, labels, options; nothing that varies between two
 * trainings on the same data, such as how long it took: the same training gives the same version)
 * — content-addressed like a rule set (`mdl-` and 12 hex digits of
 * the SHA-256 of its canonical JSON), stored in PostgreSQL, activated by version.
 */

export const MODEL_FORMAT = 1;

const finite = z.number().refine(Number.isFinite, "must be a finite number");

/** At most this many nodes in one tree (a depth-12 binary tree has 8,191). */
export const MAX_TREE_NODES = 8_191;
/** At most this deep (the trainer's default is 4; its cap 12). */
export const MAX_TREE_DEPTH = 12;
/** At most this many nodes in the whole forest (~13 MB as flat arrays). */
export const MAX_FOREST_NODES = 500_000;

/**
 * Whether the arrays describe a tree (issue 35, item 1): every child comes after its parent, each
 * node but the root has exactly one parent (two parents sharing a child made a DAG whose walk at
 * load doubled with each level: a ~60-node document exhausted a consumer's memory), a node's two
 * children differ, and no path is deeper than MAX_TREE_DEPTH. Iterative, one pass.
 */
function treeShapeProblem(t: {
  feature: readonly number[];
  left: readonly number[];
  right: readonly number[];
}): { path: (string | number)[]; message: string } | undefined {
  const n = t.feature.length;
  if (n > MAX_TREE_NODES) return { path: ["feature"], message: `a tree has at most ${MAX_TREE_NODES} nodes` };
  const depth = new Int32Array(n).fill(-1);
  depth[0] = 0;
  for (let i = 0; i < n; i++) {
    if (depth[i]! < 0) return { path: ["feature", i], message: "node is no one's child (not reachable)" };
    if (t.feature[i]! < 0) continue;
    const l = t.left[i]!;
    const r = t.right[i]!;
    if (!(l > i && l < n && r > i && r < n)) {
      return { path: ["left", i], message: "child index out of order or range" };
    }
    if (l === r) return { path: ["right", i], message: "a node's two children must differ" };
    for (const c of [l, r]) {
      if (depth[c]! >= 0) return { path: ["left", i], message: `node ${c} has two parents: not a tree` };
      depth[c] = depth[i]! + 1;
      if (depth[c]! > MAX_TREE_DEPTH) return { path: ["left", i], message: `deeper than ${MAX_TREE_DEPTH}` };
    }
  }
  return undefined;
}

const TreeSchema = z
  .strictObject({
    feature: z
      .array(
        z
          .int()
          .min(-1)
          .max(FEATURES.length - 1),
      )
      .min(1),
    threshold: z.array(finite),
    left: z.array(z.int().min(-1)),
    right: z.array(z.int().min(-1)),
    value: z.array(finite),
  })
  .superRefine((t, ctx) => {
    const n = t.feature.length;
    if ([t.threshold, t.left, t.right, t.value].some((a) => a.length !== n)) {
      ctx.addIssue({ code: "custom", message: "every array of a tree must have the same length" });
      return;
    }
    const problem = treeShapeProblem(t);
    if (problem) ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
  });

export const ModelDocumentSchema = z
  .strictObject({
    format: z.literal(MODEL_FORMAT),
    kind: z.literal("gbdt"),
    features: z
      .array(z.string())
      // A model trained before features were added reads the ones it knew (they come first).
      .refine(
        (f) => f.length > 0 && f.length <= FEATURES.length && f.every((name, i) => name === FEATURES[i]),
        `must be this scorer's features, in order (or the first of them): ${FEATURES.join(", ")}`,
      ),
    bias: finite,
    trees: z
      .array(TreeSchema)
      .min(1)
      .max(2_000)
      .refine(
        (trees) => trees.reduce((n, t) => n + t.feature.length, 0) <= MAX_FOREST_NODES,
        `a forest has at most ${MAX_FOREST_NODES} nodes`,
      ),
    training: z.strictObject({
      from: z.string(),
      to: z.string(),
      rows: z.int().min(0),
      fraud: z.int().min(0),
      labels: z.string(),
      options: z.record(z.string(), z.number()),
      trainingAuc: z.number().nullable(),
      /** The training rows' feature and score distributions, the drift monitor's reference (issue 36). */
      reference: ReferenceSchema.optional(),
      /** Out-of-time figures on the range's held-out tail, which it was not trained on (issue 36). */
      holdout: z
        .strictObject({
          from: z.string(),
          to: z.string(),
          rows: z.int().min(0),
          fraud: z.int().min(0),
          auc: z.number().nullable(),
          prAuc: z.number().nullable(),
          atReviews: z.array(
            z.strictObject({
              reviewPer1000: z.number(),
              threshold: z.number(),
              recall: z.number(),
              precision: z.number().nullable(),
            }),
          ),
          /** Where the default rules review and decline with this model (evaluate.ts's modelOperating). */
          operating: z
            .strictObject({
              flagPer1000: z.number(),
              review: z.number(),
              declinePer1000: z.number(),
              decline: z.number(),
            })
            .optional(),
        })
        .optional(),
    }),
  })
  .superRefine((doc, ctx) => {
    const known = doc.features.length;
    doc.trees.forEach((t, k) => {
      if (t.feature.some((f) => f >= known))
        ctx.addIssue({
          code: "custom",
          path: ["trees", k, "feature"],
          message: `reads a feature past the ${known} listed`,
        });
    });
  });
export type ModelDocument = z.output<typeof ModelDocumentSchema>;

export function modelVersion(doc: ModelDocument): string {
  return contentAddress("mdl", doc);
}

export function validateModel(
  doc: unknown,
): { ok: true; model: ModelDocument } | { ok: false; issues: Array<{ path: string; message: string }> } {
  const parsed = ModelDocumentSchema.safeParse(doc);
  if (parsed.success) return { ok: true, model: parsed.data };
  return {
    ok: false,
    issues: parsed.error.issues
      .slice(0, 20)
      .map((i) => ({ path: i.path.join(".") || "(document)", message: i.message })),
  };
}

export type Contribution = { feature: FeatureName; value: number };

/** A model ready to score with. */
export type ScoringModel = {
  version: string;
  /** The probability of fraud for a feature vector (FEATURES order). */
  score(x: ArrayLike<number>): number;
  /** The `top` features that moved the margin most, largest first (log-odds). */
  explain(x: ArrayLike<number>, top?: number): Contribution[];
  /** Its own review and decline levels of model.score, from its held-out days (rules: model.review_threshold). */
  thresholds?: { review: number; decline: number };
};

/**
 * The forest in flat typed arrays (every tree's nodes one after the other, a node's two children
 * side by side): the walk reads a few cache lines instead of chasing JSON arrays, and steps to
 * `child + (x > threshold)` without a branch to mispredict.
 */
function flatten(forest: Forest) {
  const total = forest.trees.reduce((n, t) => n + t.feature.length, 0);
  const feature = new Int32Array(total);
  const threshold = new Float64Array(total);
  const child = new Int32Array(total);
  const value = new Float64Array(total);
  const roots = new Int32Array(forest.trees.length);
  let at = 0;
  forest.trees.forEach((t, k) => {
    roots[k] = at;
    // Breadth first, so that the children of a node take two consecutive places.
    const queue = [0];
    const place = new Map<number, number>([[0, at++]]);
    while (queue.length > 0) {
      const n = queue.shift()!;
      const here = place.get(n)!;
      feature[here] = t.feature[n]!;
      threshold[here] = t.threshold[n]!;
      value[here] = t.value[n]!;
      if (t.feature[n]! < 0) continue;
      // validateModel guarantees a tree; a node placed twice would mean a DAG slipped through.
      if (place.has(t.left[n]!) || place.has(t.right[n]!)) throw new Error("model tree has a shared node");
      child[here] = at;
      place.set(t.left[n]!, at++);
      place.set(t.right[n]!, at++);
      queue.push(t.left[n]!, t.right[n]!);
    }
  });
  return (x: ArrayLike<number>): number => {
    let z = forest.bias;
    for (let k = 0; k < roots.length; k++) {
      let n = roots[k]!;
      while (feature[n]! >= 0) n = child[n]! + (x[feature[n]!]! > threshold[n]! ? 1 : 0);
      z += value[n]!;
    }
    return z;
  };
}

export function scoringModel(doc: ModelDocument, version = modelVersion(doc)): ScoringModel {
  const forest: Forest = { bias: doc.bias, trees: doc.trees };
  const scratch = new Float64Array(FEATURES.length);
  const fastMargin = flatten(forest);
  const operating = doc.training.holdout?.operating;
  return {
    version,
    ...(operating ? { thresholds: { review: operating.review, decline: operating.decline } } : {}),
    score: (x) => 1 / (1 + Math.exp(-fastMargin(x))),
    explain(x, top = 3) {
      contributions(forest, x, scratch);
      // The `top` largest by magnitude (ties: the earlier feature), those that moved it at all.
      const picked: Contribution[] = [];
      const taken = new Set<number>();
      for (let k = 0; k < top; k++) {
        let best = -1;
        for (let i = 0; i < scratch.length; i++)
          if (
            !taken.has(i) &&
            Math.abs(scratch[i]!) >= 0.005 &&
            (best < 0 || Math.abs(scratch[i]!) > Math.abs(scratch[best]!))
          )
            best = i;
        if (best < 0) break;
        taken.add(best);
        picked.push({ feature: FEATURES[best]!, value: scratch[best]! });
      }
      return picked;
    },
  };
}

const signed = (v: number) => `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(2)}`.replace("−", "-");

/**
 * The reason a decision the model influenced carries: its version, score and top contributions,
 * e.g. `model mdl-0123456789ab score 0.9731: amount_vs_user_avg +0.31, new_device +0.22, new_country +0.18`.
 */
export function modelReason(version: string, score: number, top: readonly Contribution[]): string {
  const parts = top.map((c) => `${c.feature} ${signed(c.value)}`).join(", ");
  return `model ${version} score ${score.toFixed(4)}${parts ? `: ${parts}` : ""}`;
}

export type ModelExplanation = { version: string; score: number; contributions: Contribution[] };

/** The model's part of a decision, read back from its reasons (modelReason's inverse); null without one. */
export function explanationOf(reasons: readonly string[] | null): ModelExplanation | null {
  for (const reason of reasons ?? []) {
    const m = /^model (\S+) score ([0-9.]+)(?:: (.*))?$/.exec(reason);
    if (!m) continue;
    const contributions = (m[3] ?? "")
      .split(", ")
      .map((part) => /^(\S+) ([+-][0-9.]+)$/.exec(part))
      .filter((p) => p !== null)
      .map((p) => ({ feature: p[1] as Contribution["feature"], value: Number(p[2]) }));
    return { version: m[1]!, score: Number(m[2]), contributions };
  }
  return null;
}

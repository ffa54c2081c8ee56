import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.ts";
import { FEATURES } from "../../../src/model/features.ts";
import { MAX_TREE_DEPTH, type ModelDocument, validateModel } from "../../../src/model/model.ts";
import { createRulesSource } from "../../../src/rules/active-rules.ts";
import { defaultRuleSet } from "../../../src/rules/default-rule-set.ts";

/*
 * Issue 35, item 1: model documents are trees. Before, validation checked only that a child comes
 * after its parent: two parents could share a child, and loading such a document did work that
 * doubled with each level — a ~60-node document exhausted a consumer's memory, on every restart.
 */

type Tree = ModelDocument["trees"][number];

/** A document around `trees` (everything else valid). */
const doc = (trees: Tree[]): unknown => ({
  format: 1,
  kind: "gbdt",
  features: [...FEATURES],
  bias: -3,
  trees,
  training: { from: "a", to: "b", rows: 1, fraud: 1, labels: "x", options: {}, trainingAuc: null },
});

/** A chain of `levels` split nodes whose two children are the same next node: 2^levels paths. */
function sharedChildren(levels: number): Tree {
  const t: Tree = { feature: [], threshold: [], left: [], right: [], value: [] };
  for (let i = 0; i < levels; i++) {
    t.feature.push(0);
    t.threshold.push(1);
    t.left.push(i + 1);
    t.right.push(i + 1);
    t.value.push(0);
  }
  t.feature.push(-1);
  t.threshold.push(0);
  t.left.push(-1);
  t.right.push(-1);
  t.value.push(0.5);
  return t;
}

/** Two parents sharing a child, with distinct left and right: 0 → (1, 2); 1 → (3, 4); 2 → (3, 4). */
const diamond: Tree = {
  feature: [0, 0, 0, -1, -1],
  threshold: [1, 1, 1, 0, 0],
  left: [1, 3, 3, -1, -1],
  right: [2, 4, 4, -1, -1],
  value: [0, 0, 0, 0.1, 0.2],
};

const leaf = (v: number) => ({ feature: -1, threshold: 0, left: -1, right: -1, value: v });
/** A balanced tree of `depth` levels of splits, as arrays (breadth first). */
function balanced(depth: number): Tree {
  const nodes: ReturnType<typeof leaf>[] = [];
  const total = 2 ** (depth + 1) - 1;
  for (let i = 0; i < total; i++) {
    const split = i < 2 ** depth - 1;
    nodes.push(split ? { feature: 0, threshold: 1, left: 2 * i + 1, right: 2 * i + 2, value: 0 } : leaf(0.1));
  }
  return {
    feature: nodes.map((n) => n.feature),
    threshold: nodes.map((n) => n.threshold),
    left: nodes.map((n) => n.left),
    right: nodes.map((n) => n.right),
    value: nodes.map((n) => n.value),
  };
}

describe("a model document's trees", () => {
  it("refuses a node with two parents (the 60-node document that exhausted a consumer)", () => {
    const refused = validateModel(doc([sharedChildren(60)]));
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.issues.map((i) => i.message).join()).toMatch(/differ|two parents/);
    const dag = validateModel(doc([diamond]));
    expect(dag.ok).toBe(false);
    if (!dag.ok) expect(dag.issues[0]!.message).toMatch(/node 3 has two parents/);
  });

  it("refuses unreachable nodes, depth past the cap and non-finite numbers; accepts real trees", () => {
    const orphan: Tree = { ...balanced(1), feature: [0, -1, -1, -1], threshold: [1, 0, 0, 0] };
    Object.assign(orphan, { left: [1, -1, -1, -1], right: [2, -1, -1, -1], value: [0, 1, 2, 3] });
    expect(validateModel(doc([orphan])).ok).toBe(false);
    expect(validateModel(doc([balanced(MAX_TREE_DEPTH)])).ok).toBe(true);
    expect(validateModel(doc([balanced(MAX_TREE_DEPTH + 1)])).ok).toBe(false);
    const infinite = { ...balanced(1), value: [0, Number.POSITIVE_INFINITY, 0.1] };
    expect(validateModel(doc([infinite])).ok).toBe(false);
    expect(validateModel(doc([balanced(3), balanced(4)])).ok).toBe(true);
  });

  it("a consumer ignores a stored invalid model (logged, counted), scoring with the rules alone", async () => {
    const config = loadConfig({ LOG_LEVEL: "silent" });
    const fallback = defaultRuleSet(config.rules);
    const logged: string[] = [];
    const invalid: string[] = [];
    const source = createRulesSource({
      store: {
        stamp: async () => ({ version: null, lists: 0, shadow: null }),
        active: async () => null,
        allLists: async () => new Map(),
        get: async () => null,
      },
      models: {
        stamp: async () => ({ active: "mdl-000000000bad", shadow: null }),
        get: async () => doc([sharedChildren(60)]),
      },
      fallback,
      fxRates: {},
      refreshMs: 60_000,
      logger: pino({ level: "error" }, { write: (line: string) => void logged.push(line) }),
      onInvalid: (kind) => invalid.push(kind),
    });
    await source.start();
    source.stop();
    expect(invalid).toEqual(["model"]);
    expect(logged.join()).toMatch(/stored model is invalid; not used/);
  });
});

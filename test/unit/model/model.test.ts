import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.ts";
import { ENTITY_CAP, EntityTimeline, type Sighting } from "../../../src/model/entity-features.ts";
import { computeFeatures, FEATURE_TERMS, FEATURES } from "../../../src/model/features.ts";
import type { Dataset } from "../../../src/model/gbdt.ts";
import { modelReason, modelVersion, scoringModel, validateModel } from "../../../src/model/model.ts";
import { auc, trainOnDataset } from "../../../src/model/train.ts";
import { createFeatureWriter } from "../../../src/model/training-data.ts";
import { readLabelsCsv } from "../../../src/ops/backtest.ts";
import { defaultRuleSet } from "../../../src/rules/default-rule-set.ts";
import {
  evaluateRuleSet,
  type RuleHistoryEntry,
  type RuleTransaction,
} from "../../../src/rules/evaluator.ts";
import { rowHistory } from "../../../src/rules/history.ts";
import { scoringRules } from "../../../src/rules/scoring-rules.ts";
import { testProfile } from "../../support/profiles.ts";

/* The learned score's parts: features, the model document, model.score in the rules, labels. */

const T = Date.parse("2026-06-01T12:00:00Z");
const profile = testProfile({ home_country: "US", currency: "USD", per_transaction_limit: "500.00" });
const feature = (x: Float64Array, name: (typeof FEATURES)[number]) => x[FEATURES.indexOf(name)]!;
const tx = (over: Partial<RuleTransaction> = {}): RuleTransaction => ({
  transactionId: "t",
  amount: "100.00",
  currency: "USD",
  receivedMs: T,
  country: "US",
  device_id: "d1",
  merchant_id: "m1",
  merchant_category: "5411",
  channel: "ecommerce",
  ...over,
});
const past = (agoS: number, over: Partial<RuleHistoryEntry> = {}): RuleHistoryEntry => ({
  transactionId: `h${agoS}`,
  amount: "20.00",
  currency: "USD",
  receivedMs: T - agoS * 1000,
  country: "US",
  device_id: "d1",
  merchant_id: "m1",
  merchant_category: "5411",
  ...over,
});

describe("entity features (the trainer's timeline)", () => {
  const at = (id: string, user: string, minutes: number, over: Partial<Sighting> = {}): Sighting => ({
    transactionId: id,
    user,
    receivedMs: T + minutes * 60_000,
    ...over,
  });
  it("counts other users on the merchant in 48 h and on the device in 24 h, never the user itself", () => {
    const timeline = new EntityTimeline();
    const seen = (s: Sighting) => [...timeline.observe(s)];
    expect(seen(at("a", "u1", 0, { merchant_id: "m", device_id: "d" }))).toEqual([0, 0]);
    expect(seen(at("b", "u1", 5, { merchant_id: "m", device_id: "d" }))).toEqual([0, 0]);
    expect(seen(at("c", "u2", 10, { merchant_id: "m", device_id: "d" }))).toEqual([1, 1]);
    expect(seen(at("d", "u3", 11, { merchant_id: "m" }))).toEqual([2, 0]); // no device: 0
    // 25 h later the device has forgotten u1 and u2, the merchant has not.
    expect(seen(at("e", "u4", 25 * 60 + 11, { merchant_id: "m", device_id: "d" }))).toEqual([3, 0]);
    // 49 h after the first: only u4 (24 h ago) is within the merchant's 48 h.
    expect(seen(at("f", "u5", 49 * 60, { merchant_id: "m" }))).toEqual([1, 0]);
  });

  it("stops at the cap", () => {
    const timeline = new EntityTimeline();
    for (let i = 0; i < ENTITY_CAP + 10; i++) timeline.observe(at(`t${i}`, `u${i}`, i, { merchant_id: "m" }));
    expect(timeline.observe(at("last", "z", 100, { merchant_id: "m" }))[0]).toBe(ENTITY_CAP);
  });
});

describe("features", () => {
  const x = () => new Float64Array(FEATURES.length);

  it("reads the transaction against the user's own habits", () => {
    const history = [past(30), past(3_000, { merchant_id: "m2" }), past(20 * 86_400, { country: "FR" })];
    const f = computeFeatures(
      tx({ country: "BR", device_id: "d9", merchant_id: "m3" }),
      profile,
      rowHistory(history),
      {},
      x(),
    );
    expect(feature(f, "amount_vs_user_avg")).toBeCloseTo(Math.log(101 / 21), 9); // 100 against an average of 20
    expect(feature(f, "amount_vs_limit")).toBeCloseTo(0.2, 9);
    expect(feature(f, "new_device")).toBe(1);
    expect(feature(f, "new_country")).toBe(1);
    expect(feature(f, "new_merchant")).toBe(1);
    expect(feature(f, "new_category")).toBe(0);
    expect(feature(f, "foreign_country")).toBe(1);
    expect(feature(f, "count_10m")).toBe(1);
    expect(feature(f, "count_1h")).toBe(2);
    expect(feature(f, "merchants_10m")).toBe(2); // m1 and this one's m3
    expect(feature(f, "countries_1h")).toBe(2); // US and BR
    expect(feature(f, "history_30d")).toBeCloseTo(Math.log1p(3), 9);
    expect(feature(f, "hour_of_day")).toBe(12);
    expect(feature(f, "merchant_category")).toBe(5411);
    expect(feature(f, "no_profile")).toBe(0);
  });

  it("has a value for every input: no profile, no history, no optional field", () => {
    const f = computeFeatures(
      { transactionId: "t", amount: "5.00", currency: "EUR", receivedMs: T },
      null,
      rowHistory([]),
      {},
      x(),
    );
    expect([...f].every(Number.isFinite)).toBe(true);
    expect(feature(f, "no_profile")).toBe(1);
    expect(feature(f, "new_device")).toBe(0);
    expect(feature(f, "merchant_category")).toBe(-1);
  });

  it("are the same from the trainer's sliding window as from the rows the scorer reads", () => {
    const history = Array.from({ length: 40 }, (_, i) =>
      past((40 - i) * 3_600 * 13, {
        device_id: `d${i % 3}`,
        merchant_id: `m${i % 7}`,
        amount: `${10 + i}.00`,
      }),
    );
    const writer = createFeatureWriter(history.length + 1, {});
    for (const h of history) writer.add("u", { ...h }, profile, null);
    writer.add("u", tx({ device_id: "d2", merchant_id: "m9" }), profile, "fraud");
    const trained = writer.result();
    const scored = computeFeatures(
      tx({ device_id: "d2", merchant_id: "m9" }),
      profile,
      rowHistory(history),
      {},
      x(),
    );
    expect([...trained.x]).toEqual([...scored]);
    expect(trained.fraud).toBe(1);
  });
});

/** A small dataset where "new device in a new country" is fraud. */
function takeoverData(): Dataset {
  const rows = 3_000;
  const width = FEATURES.length;
  const x = new Float64Array(rows * width);
  const y = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    const risky = r % 50 === 0;
    const row = x.subarray(r * width, (r + 1) * width);
    row[FEATURES.indexOf("new_device")] = risky || r % 7 === 0 ? 1 : 0;
    row[FEATURES.indexOf("new_country")] = risky || (r % 11 === 0 && r % 7 !== 0) ? 1 : 0;
    row[FEATURES.indexOf("amount_log")] = (r % 13) / 2;
    y[r] = risky ? 1 : 0;
  }
  return { x, y, rows, width };
}

describe("a model as data", () => {
  const trained = trainOnDataset(takeoverData(), { from: "a", to: "b", labels: "test" }, { trees: 20 });

  it("is content-addressed and validated, naming what is wrong", () => {
    expect(trained.version).toMatch(/^mdl-[0-9a-f]{12}$/);
    expect(modelVersion(trained.document)).toBe(trained.version);
    // The same training, the same version (nothing in the document varies from run to run).
    expect(
      trainOnDataset(takeoverData(), { from: "a", to: "b", labels: "test" }, { trees: 20 }).version,
    ).toBe(trained.version);
    expect(validateModel(trained.document).ok).toBe(true);
    const reordered = { ...trained.document, features: [...FEATURES].reverse() };
    const bad = validateModel(reordered);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues[0]!.path).toBe("features");
    // A model trained before the entity features were added (the first 19) still loads and scores;
    // one whose trees read past its list does not.
    const older = { ...trained.document, features: FEATURES.slice(0, 19) };
    expect(validateModel(older).ok).toBe(true);
    const t0 = trained.document.trees[0]!;
    const pastList = { ...older, trees: [{ ...t0, feature: t0.feature.map((f) => (f >= 0 ? 20 : f)) }] };
    expect(validateModel(pastList).ok).toBe(false);
    const tree = trained.document.trees[0]!;
    const loop = { ...trained.document, trees: [{ ...tree, left: tree.left.map((l) => Math.min(l, 0)) }] };
    expect(validateModel(loop).ok).toBe(false);
  });

  it("explains a score by its top contributions, in the reason a decision carries", () => {
    const model = scoringModel(trained.document, trained.version);
    const x = new Float64Array(FEATURES.length);
    x[FEATURES.indexOf("new_device")] = 1;
    x[FEATURES.indexOf("new_country")] = 1;
    expect(model.score(x)).toBeGreaterThan(0.9);
    const top = model.explain(x);
    expect(top.map((c) => c.feature).sort()).toEqual(["new_country", "new_device"]);
    expect(modelReason(model.version, 0.97312, top)).toMatch(
      new RegExp(
        `^model ${model.version} score 0\\.9731: new_(device|country) \\+\\d\\.\\d\\d, new_(device|country) \\+\\d\\.\\d\\d$`,
      ),
    );
  });

  it("model.score is null without a model: the default set decides as before", () => {
    const set = defaultRuleSet(loadConfig({}).rules);
    const risky = tx({ country: "BR", device_id: "d9" });
    const noModel = evaluateRuleSet(set, risky, profile, [past(600)], { fxRates: {}, lists: new Map() });
    expect(noModel.reasons.some((r) => r.startsWith("model"))).toBe(false);
    const rules = scoringRules(set, {});
    expect(rules.model).toBeUndefined();
    expect(rules.terms).not.toContainEqual({ agg: "count_distinct", windowMs: 3_600_000, field: "country" });
  });

  it("with a model, the default set's model rules decide and say why", () => {
    const set = defaultRuleSet(loadConfig({}).rules);
    const model = scoringModel(trained.document, trained.version);
    const rules = scoringRules(set, {}, new Map(), "rs-test", model);
    // The round loads what the features read.
    for (const term of FEATURE_TERMS) expect(rules.terms).toContainEqual(term);
    expect(rules.widestWindowMs).toBeGreaterThanOrEqual(30 * 86_400_000);
    const verdict = rules.evaluate(tx({ country: "BR", device_id: "d9" }), profile, [past(600)]);
    expect(verdict.decision).toBe("decline");
    expect(verdict.reasons).toContain("model_very_high_risk");
    expect(verdict.reasons.at(-1)).toMatch(new RegExp(`^model ${model.version} score `));
    // A usual payment: the model's rules do not fire, and no model reason is added.
    const usual = rules.evaluate(tx(), profile, [past(600)]);
    expect(usual.decision).toBe("approve");
    expect(usual.reasons).toEqual([]);
    // A set that never reads model.score does not compute it.
    const plain = scoringRules(
      { ...set, rules: set.rules.filter((r) => !r.id.startsWith("model_")) },
      {},
      new Map(),
      "x",
      model,
    );
    expect(plain.model).toBeUndefined();
  });

  it("reviews and declines from the model's own levels (its held-out days), unless told not to", () => {
    const usualScore = scoringModel(trained.document, "m").score(
      computeFeatures(tx(), profile, rowHistory([past(600)]), {}, new Float64Array(FEATURES.length)),
    );
    const withLevels = (review: number, decline: number) => {
      const doc = structuredClone(trained.document);
      doc.training.holdout = {
        from: "a",
        to: "b",
        rows: 1,
        fraud: 0,
        auc: null,
        prAuc: null,
        atReviews: [],
        operating: { flagPer1000: 3, review, declinePer1000: 1, decline },
      };
      expect(validateModel(doc).ok).toBe(true);
      return scoringModel(doc, "m-levels");
    };
    const decide = (model: ReturnType<typeof scoringModel>, own = true) =>
      scoringRules(
        defaultRuleSet({ ...loadConfig({}).rules, modelOwnThresholds: own }),
        {},
        new Map(),
        "x",
        model,
      ).evaluate(tx(), profile, [past(600)]).reasons;
    // The usual payment scores far below 0.7: reviewed when the model's own review level is below
    // its score, declined when its decline level is, untouched without levels or when told not to.
    expect(usualScore).toBeLessThan(0.5);
    expect(decide(withLevels(usualScore / 2, 0.99))).toContain("model_high_risk");
    expect(decide(withLevels(usualScore / 2, 0.99))).not.toContain("model_very_high_risk");
    expect(decide(withLevels(usualScore / 4, usualScore / 2))).toContain("model_very_high_risk");
    expect(decide(withLevels(usualScore / 2, 0.99), false)).toEqual([]);
    expect(decide(scoringModel(trained.document, "no-levels"))).toEqual([]);
  });
});

describe("training figures and labels", () => {
  it("AUC: 1 when the scores order the labels, 0.5 for ties, null with one class", () => {
    expect(auc(Float64Array.from([0.1, 0.2, 0.8, 0.9]), Uint8Array.from([0, 0, 1, 1]))).toBe(1);
    expect(auc(Float64Array.from([0.5, 0.5]), Uint8Array.from([0, 1]))).toBe(0.5);
    expect(auc(Float64Array.from([0.1, 0.2]), Uint8Array.from([0, 0]))).toBeNull();
  });

  it("reads the simulator's truth as labels (legit, or a typology: fraud) as well as transaction_id,label", async () => {
    const file = join(tmpdir(), `labels-${process.pid}.csv`);
    const a = "00000000-0000-4000-8000-000000000001";
    const b = "00000000-0000-4000-8000-000000000002";
    try {
      writeFileSync(file, `transaction_id,user_id,day,label\n${a},u1,3,legit\n${b},u2,4,account_takeover\n`);
      expect([...(await readLabelsCsv(file))]).toEqual([
        [a, "legitimate"],
        [b, "fraud"],
      ]);
      writeFileSync(file, `${a},fraud\n${b},legitimate\n`);
      expect([...(await readLabelsCsv(file))]).toEqual([
        [a, "fraud"],
        [b, "legitimate"],
      ]);
      writeFileSync(file, `${a},maybe\n`);
      await expect(readLabelsCsv(file)).rejects.toThrow(
        /:1: the label "maybe" means neither fraud nor legitimate/,
      );
      writeFileSync(file, `not-an-id,fraud\n`);
      await expect(readLabelsCsv(file)).rejects.toThrow(/:1: expected a transaction_id/);
      // Any vocabulary, mapped (issue 36); case-insensitive.
      writeFileSync(file, `${a},Chargeback\n${b},OK\n`);
      expect([...(await readLabelsCsv(file, { fraud: ["chargeback"], legitimate: ["ok"] }))]).toEqual([
        [a, "fraud"],
        [b, "legitimate"],
      ]);
    } finally {
      rmSync(file, { force: true });
    }
  });
});

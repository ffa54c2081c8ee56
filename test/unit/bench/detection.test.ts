import { describe, expect, it } from "vitest";
import { detectionFigures } from "../../../bench/detection.ts";

describe("the detection figures", () => {
  it("counts review and decline as flagged: recall over fraud, precision over flagged, FPR over legitimate", () => {
    const rows: Parameters<typeof detectionFigures>[0] = [
      { label: "card_testing", decision: "review" },
      { label: "card_testing", decision: "approve" },
      { label: "slow_drain", decision: "decline" },
      { label: "slow_drain", decision: "approve" },
      { label: "legit", decision: "review" },
      ...Array.from({ length: 5 }, () => ({ label: "legit" as const, decision: "approve" as const })),
    ];
    const f = detectionFigures(rows);
    expect(f).toMatchObject({
      transactions: 10,
      fraud: 4,
      recall: 0.5,
      precision: 0.6667,
      fpr: 0.16667,
      reviewPer1000: 200,
    });
    expect(f.f1).toBeCloseTo((2 * 0.5 * (2 / 3)) / (0.5 + 2 / 3), 3);
    expect(f.confusion).toEqual({
      fraud: { approve: 2, review: 1, decline: 1 },
      legit: { approve: 5, review: 1, decline: 0 },
    });
    expect(f.perTypology.find((t) => t.typology === "card_testing")).toMatchObject({
      count: 2,
      recall: 0.5,
      review: 1,
    });
    // A typology absent from the days measured has no row (the clean world has no mule_recipient).
    expect(f.perTypology.find((t) => t.typology === "collusion")).toBeUndefined();
  });
});

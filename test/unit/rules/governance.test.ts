import { describe, expect, it } from "vitest";
import { evaluateRuleSet } from "../../../src/rules/evaluator.ts";
import type { Expr, RuleSet } from "../../../src/rules/rule-language.ts";
import { testProfile } from "../../support/profiles.ts";

/*
 * Issue 37 in the evaluator: a list entry that expires, and a snooze, each judged at the
 * transaction's own time (the broker's receipt), never at the time the scorer runs.
 */

const T = Date.parse("2026-06-01T12:00:00Z");
const profile = testProfile();
// dev-until matches the transactions received before T + 1 s.
const ctx = {
  fxRates: {},
  lists: new Map([["blocked_devices", new Map([["dev-until", T + 1_000]])]]),
};
const one = (when: Expr): RuleSet => ({
  format: 1,
  thresholds: { review: 50, decline: 80 },
  rules: [{ id: "r", description: "test", when, score: 60 }],
});

describe("governance in the evaluator", () => {
  it("a snooze silences exactly its rule for exactly its entity while it holds, and says so (issue 37)", () => {
    const set: RuleSet = {
      format: 1,
      thresholds: { review: 50, decline: 80 },
      rules: [
        { id: "big", description: "big", when: { op: ">", args: [{ field: "tx.amount" }, 5] }, score: 60 },
        { id: "any", description: "any", when: true, score: 10 },
      ],
    };
    const snoozes = new Map([
      ["user:u1", [{ rule: "big", fromMs: T - 1_000, untilMs: T + 1_000, by: "ann" }]],
    ]);
    const run = (userId: string, receivedMs: number) =>
      evaluateRuleSet(
        set,
        { transactionId: "t", userId, amount: "10.00", currency: "USD", receivedMs },
        profile,
        [],
        {
          ...ctx,
          snoozes,
        },
      );
    const silenced = run("u1", T);
    expect(silenced.reasons).toEqual([
      `snoozed: big (until ${new Date(T + 1_000).toISOString()}, by ann)`,
      "any",
    ]);
    expect(silenced.score).toBe(10);
    expect(silenced.decision).toBe("approve");
    expect(run("u2", T).reasons).toEqual(["big", "any"]); // another user
    expect(run("u1", T - 1_001).reasons).toEqual(["big", "any"]); // received before the snooze
    expect(run("u1", T + 1_000).reasons).toEqual(["big", "any"]); // at its end
  });

  it("an expiring list entry matches the transactions received before its expiry, and none after (issue 37)", () => {
    const inList: Expr = { op: "in_list", arg: { field: "tx.device_id" }, list: "blocked_devices" };
    const at = (receivedMs: number) =>
      evaluateRuleSet(
        one(inList),
        { transactionId: "t", amount: "10.00", currency: "USD", receivedMs, device_id: "dev-until" },
        profile,
        [],
        ctx,
      ).reasons.length === 1;
    expect(at(T)).toBe(true);
    expect(at(T + 999)).toBe(true);
    expect(at(T + 1_000)).toBe(false);
    expect(at(T + 86_400_000)).toBe(false);
  });
});

import { describe, expect, it } from "vitest";
import { longestCommitGap, maxCommitGapS } from "../../../chaos/checker.ts";
import { faultGate } from "../../../chaos/faults.ts";

describe("max_commit_gap_s", () => {
  it("is the longest time from the last progress to a sample still without any, while there is lag", () => {
    const s = (atS: number, committed: number | null, lag: number | null) => ({ atS, committed, lag });
    expect(
      maxCommitGapS([
        s(0, 0, 10),
        s(2, 100, 10), // progress
        s(4, 100, 50),
        s(6, null, null), // the broker away: no progress known
        s(8, 100, 80), // 6 s since the progress at 2
        s(10, 300, 5), // progress
        s(12, 300, 0), // no lag: nothing to commit, no gap
        s(14, 300, 0),
      ]),
    ).toBe(6);
    expect(maxCommitGapS([])).toBe(0);
    expect(longestCommitGap([s(0, 0, 10), s(2, 100, 10), s(5, 100, 9), s(8, 100, 9)])).toEqual({
      seconds: 6,
      fromS: 2,
      toS: 8,
    });
  });
});

describe("the fault gate of cluster runs", () => {
  const tick = () => new Promise((r) => setTimeout(r, 150));

  it("starts a measured fault only once the active faults ended, and holds new ones off meanwhile", async () => {
    const gate = faultGate(() => {
      throw new Error("no wait should run out here");
    });
    const order: string[] = [];
    const cutEnds = Promise.withResolvers<void>();
    const cut = gate.fault(async () => {
      order.push("cut starts");
      await cutEnds.promise;
      order.push("cut ends");
    });
    const killMeasured = Promise.withResolvers<void>();
    const kill = gate.alone(async () => {
      order.push("kill starts");
      await killMeasured.promise;
      order.push("kill measured");
    });
    await tick();
    expect(order).toEqual(["cut starts"]); // the kill waits for the cut
    cutEnds.resolve();
    await cut;
    await tick();
    expect(order).toEqual(["cut starts", "cut ends", "kill starts"]);
    const later = gate.fault(async () => void order.push("redis cut starts"));
    await tick();
    expect(order.at(-1)).toBe("kill starts"); // held off while the kill is measured
    killMeasured.resolve();
    await Promise.all([kill, later]);
    expect(order.slice(-2)).toEqual(["kill measured", "redis cut starts"]);
  });

  it("runs a fault anyway after its bounded wait, and says so", async () => {
    const overdue: string[] = [];
    const gate = faultGate((what) => overdue.push(what), 200);
    const measured = Promise.withResolvers<void>();
    const held = gate.alone(() => measured.promise);
    await gate.fault(async () => {});
    expect(overdue).toEqual(["a fault waiting for a measured one"]);
    measured.resolve();
    await held;
  });
});

import { describe, expect, it } from "vitest";
import { maxCommitGapS } from "../../../chaos/checker.ts";

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
  });
});

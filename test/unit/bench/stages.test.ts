import { describe, expect, it } from "vitest";
import { parseBuckets, stageTimes } from "../../../bench/lib/stages.ts";

/* The bench's per-stage table: quantiles from the difference of two scrapes, as histogram_quantile. */

const scrape = (persist: number[], publish: number[]) => {
  const bounds = ["0.001", "0.005", "0.01", "+Inf"];
  const lines = (stage: string, counts: number[]) =>
    bounds.map((le, i) => `sentinel_scorer_stage_seconds_bucket{le="${le}",stage="${stage}"} ${counts[i]}`);
  return [
    "# HELP sentinel_scorer_stage_seconds …",
    ...lines("persist", persist),
    ...lines("publish", publish),
    'sentinel_scorer_stage_seconds_sum{stage="persist"} 1',
  ].join("\n");
};

describe("stage times from two scrapes", () => {
  it("interpolates p50 and p99 inside the bucket from the counts observed between the scrapes", () => {
    const before = parseBuckets(scrape([10, 10, 10, 10], [0, 0, 0, 0]), "sentinel_scorer_stage_seconds");
    // Between the scrapes: 100 persists, 50 within 1 ms, 40 more within 5 ms, 10 more within 10 ms.
    const after = parseBuckets(scrape([60, 100, 110, 110], [0, 0, 0, 0]), "sentinel_scorer_stage_seconds");
    const t = stageTimes(before, after);
    expect(t.persist).toEqual({ p50: 1, p99: 9.5, count: 100 });
    expect(t.publish).toBeUndefined(); // nothing observed
  });
});

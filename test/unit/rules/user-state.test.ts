import { describe, expect, it } from "vitest";
import type { StoredState } from "../../../src/rules/user-state.ts";
import { eligible, KnownStateUsers, planStateRequest } from "../../../src/rules/user-state-request.ts";

/* Issue 21: what a round asks of a user's state, and when the state stands for its history. */

const T = Date.UTC(2026, 11, 1, 10, 30, 15, 250);
const tx = (offset: number, receivedMs = T, partition = 0) => ({
  receivedMs,
  partition,
  offset,
  tx: { device_id: "d1" },
});
const state = (position: StoredState["position"]): StoredState => ({
  position,
  buckets: [],
  edges: [],
  values: [],
});

describe("per-user state, pure parts", () => {
  it("asks, per window, for the edge minute's rows and the minute, hour and day buckets after it; ranges merged", () => {
    const r = planStateRequest(new Map([["u", [tx(1), tx(2, T + 500)]]]), [
      { agg: "count", windowMs: 60_000 },
      { agg: "sum", windowMs: 60_000 },
      { agg: "first_seen", windowMs: 86_400_000, field: "device_id" },
    ]);
    const from = T - 60_000; // 10:29:15.250
    const minute = Math.floor(from / 60_000);
    expect(r.edges).toEqual([{ userId: "u", fromMs: from, toMs: (minute + 1) * 60_000 }]);
    expect(r.buckets).toEqual([
      { userId: "u", grain: 60, lo: minute + 1, hi: (Math.floor(from / 3_600_000) + 1) * 60 - 1 },
      {
        userId: "u",
        grain: 3600,
        lo: Math.floor(from / 3_600_000) + 1,
        hi: (Math.floor(from / 86_400_000) + 1) * 24 - 1,
      },
      { userId: "u", grain: 86400, lo: Math.floor(from / 86_400_000) + 1, hi: Number.MAX_SAFE_INTEGER },
    ]);
    expect(r.values).toEqual([{ userId: "u", field: "device_id", value: "d1" }]);
    expect(r.recentValues).toEqual([]);
    // Only the users asked for get ranges; every user gets its position.
    const some = planStateRequest(
      new Map([
        ["u", [tx(1)]],
        ["v", [tx(2)]],
      ]),
      [{ agg: "count", windowMs: 1000 }],
      (u) => u === "v",
    );
    expect(some.users).toEqual(["u", "v"]);
    expect(new Set(some.buckets.map((b) => b.userId))).toEqual(new Set(["v"]));
  });

  it("stands for the history only with state, one partition, and every stored offset lower", () => {
    const ready = { partition: 0, maxOffset: 10, mixed: false, count: 300, ready: true };
    expect(eligible(state(ready), [tx(11), tx(12)])).toBe(true);
    expect(eligible(state(ready), [tx(10)])).toBe(false);
    expect(eligible(state(ready), [tx(11, T, 1)])).toBe(false);
    expect(eligible(state({ ...ready, mixed: true }), [tx(11)])).toBe(false);
    expect(eligible(state({ ...ready, ready: false }), [tx(11)])).toBe(false);
    expect(eligible(state(undefined), [tx(11)])).toBe(false);
  });

  it("remembers at most `cap` users with state, the least recently seen leaving first", () => {
    const known = new KnownStateUsers(2);
    known.add("a");
    known.add("b");
    known.add("a");
    known.add("c");
    expect(["a", "b", "c"].map((u) => known.has(u))).toEqual([true, false, true]);
  });
});

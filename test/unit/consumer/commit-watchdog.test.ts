import { describe, expect, it } from "vitest";
import { createCommitWatchdog } from "../../../src/consumer/commit-watchdog.ts";

/*
 * The commit watchdog (law 6): a quiet partition of this member whose durable offset is past the
 * group's committed one is committed; never backwards, never a partition held elsewhere, never
 * while it is being worked on, and no request at all while commits succeed.
 */

function harness(group: Map<number, bigint>) {
  let clock = 0;
  const busy = new Set<number>();
  const commits: Array<[number, string]> = [];
  let fetches = 0;
  const w = createCommitWatchdog({
    quietMs: 5_000,
    verifyMs: 60_000,
    now: () => clock,
    isIdle: (p) => !busy.has(p),
    committed: async () => {
      fetches++;
      return group;
    },
    commit: async (p, offset) => {
      commits.push([p, offset]);
      group.set(p, BigInt(offset));
    },
  });
  return {
    w,
    busy,
    commits,
    fetches: () => fetches,
    tick: (ms: number) => {
      clock += ms;
    },
  };
}

describe("commit watchdog", () => {
  it("commits a quiet partition's durable offset the group never got", async () => {
    const h = harness(new Map([[1, 1464n]]));
    h.w.assigned([1, 4]);
    h.w.durable(1, "1599");
    await h.w.check();
    expect(h.commits).toEqual([]); // not quiet yet
    h.tick(5_000);
    await h.w.check();
    expect(h.commits).toEqual([[1, "1599"]]);
    h.tick(5_000);
    await h.w.check();
    expect(h.commits).toHaveLength(1); // done once
  });

  it("asks nothing while commits succeed, and never commits backwards or a partition held elsewhere", async () => {
    const h = harness(new Map([[2, 2000n]]));
    h.w.assigned([2, 3]);
    h.w.durable(3, "100");
    h.w.committed(3, "100");
    h.tick(10_000);
    await h.w.check();
    expect(h.fetches()).toBe(0);
    // Another member took partition 2 further meanwhile: ours is behind, nothing is sent.
    h.w.durable(2, "1500");
    h.tick(10_000);
    await h.w.check();
    expect(h.fetches()).toBe(1);
    expect(h.commits).toEqual([]);
    await h.w.check();
    expect(h.fetches()).toBe(1); // the group's offset is remembered: no second request
    // Not ours any more, or being worked on: left alone.
    h.w.durable(5, "10");
    h.w.assigned([2]);
    h.tick(10_000);
    await h.w.check();
    expect(h.commits).toEqual([]);
    h.w.assigned([5]);
    h.busy.add(5);
    h.tick(10_000);
    await h.w.check();
    expect(h.commits).toEqual([]);
    h.busy.delete(5);
    await h.w.check();
    expect(h.commits).toEqual([[5, "10"]]);
  });

  it("checks a quiet partition once a minute even when its commits succeeded: another commit may have overwritten them", async () => {
    const group = new Map([[7, 900n]]);
    const h = harness(group);
    h.w.assigned([7]);
    h.w.durable(7, "1000");
    h.w.committed(7, "1000");
    group.set(7, 900n); // a stale commit from elsewhere, after ours
    h.tick(30_000);
    await h.w.check();
    expect(h.commits).toEqual([]);
    h.tick(30_000);
    await h.w.check();
    expect(h.commits).toEqual([[7, "1000"]]);
  });
});

import { describe, expect, it } from "vitest";
import {
  type CoalescedCommit,
  createCommitCoalescer,
  NOT_CURRENT,
} from "../../../src/kafka/commit-coalescer.ts";

/*
 * Issue 38: the scorer's commits ride in one OffsetCommit request per interval — the latest offset
 * of each partition — and a commit no longer current when the request is built is never sent (the
 * generation rule of the scorer's committer, test/unit/consumer/committer.test.ts).
 */

type Request = Array<{ partition: number; offset: string }>;

function rig({ intervalMs = 20, refuse = 0 } = {}) {
  const requests: Request[] = [];
  let refusals = refuse;
  const coalescer = createCommitCoalescer({
    intervalMs,
    send: async (current) => {
      const sending = current();
      requests.push(sending.map(({ partition, offset }) => ({ partition, offset })));
      await new Promise((r) => setTimeout(r, 5));
      if (refusals-- > 0) throw new Error("Request timed out");
      return sending;
    },
  });
  const commit = (partition: number, offset: string, current = () => true) =>
    coalescer.commit({ topic: "t", partition, offset, current } satisfies CoalescedCommit);
  return { coalescer, commit, requests };
}

describe("createCommitCoalescer", () => {
  it("sends the latest offset of every partition asked within the interval in one request", async () => {
    const { commit, requests } = rig();
    const settled = await Promise.allSettled([
      commit(0, "10"),
      commit(1, "7"),
      commit(0, "12"),
      commit(2, "3"),
    ]);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "fulfilled"]);
    expect(requests).toEqual([
      [
        { partition: 0, offset: "12" },
        { partition: 1, offset: "7" },
        { partition: 2, offset: "3" },
      ],
    ]);
  });

  it("sends no more than one request per interval, the next gathering what came meanwhile", async () => {
    const { commit, requests } = rig({ intervalMs: 40 });
    const first = commit(0, "1");
    await new Promise((r) => setTimeout(r, 10));
    const second = commit(0, "2");
    const third = commit(1, "5");
    const started = performance.now();
    await Promise.all([first, second, third]);
    expect(requests).toEqual([
      [{ partition: 0, offset: "1" }],
      [
        { partition: 0, offset: "2" },
        { partition: 1, offset: "5" },
      ],
    ]);
    // The second request waited for the interval since the first was sent, not for nothing.
    expect(performance.now() - started).toBeGreaterThanOrEqual(20);
  });

  it("never sends a commit that is no longer current when the request is built, and says so", async () => {
    const { commit, requests } = rig();
    let ours = true;
    const lost = commit(3, "9", () => ours);
    const kept = commit(4, "2");
    ours = false; // the group rejoined (or the scorer is stopping) before the interval ended
    await expect(lost).rejects.toThrow(NOT_CURRENT);
    await expect(kept).resolves.toBeUndefined();
    expect(requests).toEqual([[{ partition: 4, offset: "2" }]]);
  });

  it("fails every commit of a refused request (each is the caller's to log; a later one covers it)", async () => {
    const { commit, requests } = rig({ refuse: 1 });
    await expect(Promise.all([commit(0, "1"), commit(1, "1")])).rejects.toThrow("Request timed out");
    await expect(commit(0, "2")).resolves.toBeUndefined();
    expect(requests).toHaveLength(2);
  });

  it("flush sends what is gathered at once and waits for it (a stop does not wait out the interval)", async () => {
    const { coalescer, commit, requests } = rig({ intervalMs: 60_000 });
    const a = commit(0, "5");
    const started = performance.now();
    await coalescer.flush();
    await a;
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(requests).toEqual([[{ partition: 0, offset: "5" }]]);
  });
});

import { describe, expect, it, vi } from "vitest";
import type { Decision } from "../../../src/domain/decision.ts";
import { createDecisionWaiters, preferredWaitMs } from "../../../src/sync/decision-waiters.ts";

const decision = (id: string): Decision => ({
  transaction_id: id,
  user_id: "u1",
  decision: "approve",
  score: 0,
  reasons: [],
  rules_version: "v",
  decided_at: "2026-01-01T00:00:00.000Z",
});

describe("decision waiters", () => {
  it("hands a delivered decision to every wait for that id, once", async () => {
    const w = createDecisionWaiters({ maxPending: 10 });
    const a = w.wait("ID-1", 1_000)!;
    const b = w.wait("id-1", 1_000)!;
    w.deliver(decision("id-1"));
    w.deliver(decision("id-1"));
    expect(await a.promise).toEqual({ kind: "decided", decision: decision("id-1") });
    expect(await b.promise).toMatchObject({ kind: "decided" });
    expect(w.pending).toBe(0);
  });

  it("times out, and a late decision changes nothing", async () => {
    vi.useFakeTimers();
    try {
      const w = createDecisionWaiters({ maxPending: 10 });
      const a = w.wait("x", 300)!;
      vi.advanceTimersByTime(299);
      expect(w.pending).toBe(1);
      vi.advanceTimersByTime(1);
      expect(await a.promise).toEqual({ kind: "timed_out" });
      w.deliver(decision("x"));
      expect(w.pending).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("sheds beyond maxPending, and a cancelled wait frees its slot", async () => {
    const w = createDecisionWaiters({ maxPending: 2 });
    const a = w.wait("a", 1_000)!;
    w.wait("b", 1_000);
    expect(w.wait("c", 1_000)).toBeUndefined();
    a.cancel();
    expect(await a.promise).toEqual({ kind: "cancelled" });
    expect(w.wait("c", 1_000)).toBeDefined();
    w.closeAll();
    expect(w.pending).toBe(0);
  });

  it("ends only the waits whose payload conflicts", async () => {
    const w = createDecisionWaiters({ maxPending: 10 });
    const mine = w.wait("x", 1_000, "fp-1")!;
    const other = w.wait("x", 1_000, "fp-2")!;
    w.conflict("x", "fp-1");
    expect(await mine.promise).toEqual({ kind: "conflict" });
    expect(w.pending).toBe(1);
    w.deliver(decision("x"));
    expect(await other.promise).toMatchObject({ kind: "decided" });
  });
});

describe("Prefer: wait (RFC 7240)", () => {
  it.each([
    [undefined, undefined],
    ["wait=1", 1_000],
    ["wait=0.3", 300],
    ['respond-async, wait="2.5"', 2_000],
    ["WAIT = 10", 2_000],
    ["return=minimal", undefined],
    ["wait=-1", undefined],
    ["wait=abc", undefined],
    [["handling=lenient", "wait=1.25"], 1_250],
  ])("%j → %j ms (cap 2000)", (header, ms) => {
    expect(preferredWaitMs(header as string | string[] | undefined, 2_000)).toBe(ms);
  });
});

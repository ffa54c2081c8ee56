import { describe, expect, it } from "vitest";
import { createRoundCombiner } from "../../../src/consumer/round-combiner.ts";
import { SentinelError } from "../../../src/errors.ts";

/* The round combiner with a hand-driven scheduler: rounds start when the test says so. */

function manual() {
  const pending: Array<() => void> = [];
  return {
    schedule: (fn: () => void) => void pending.push(fn),
    tick: () => {
      for (const fn of pending.splice(0)) fn();
    },
  };
}

/** A combiner whose rounds each run until the test ends them (`ends.shift()!()`), in order. */
function heldRounds(
  options: Omit<Parameters<typeof createRoundCombiner<number, number>>[0], "runRound" | "schedule">,
) {
  const clock = manual();
  const rounds: number[][] = [];
  const ends: Array<() => void> = [];
  const c = createRoundCombiner<number, number>({
    runRound: async (chunks) => {
      rounds.push(chunks);
      await new Promise<void>((r) => ends.push(r));
      return chunks;
    },
    schedule: clock.schedule,
    ...options,
  });
  return { clock, rounds, ends, c };
}

describe("round combiner", () => {
  it("scores the chunks submitted before a tick as one round, each submitter getting its own result", async () => {
    const rounds: number[][] = [];
    const clock = manual();
    const c = createRoundCombiner<number, string>({
      runRound: async (chunks) => {
        rounds.push(chunks);
        return chunks.map((n) => `r${n}`);
      },
      schedule: clock.schedule,
    });
    const a = c.submit(1);
    const b = c.submit(2);
    clock.tick();
    const d = c.submit(3);
    clock.tick();
    expect(await Promise.all([a, b, d])).toEqual(["r1", "r2", "r3"]);
    expect(rounds).toEqual([[1, 2], [3]]);
  });

  it("runs a round that fails for a non-retryable reason again chunk by chunk: only the bad chunk fails", async () => {
    const clock = manual();
    const c = createRoundCombiner<number, number>({
      runRound: async (chunks) => {
        if (chunks.includes(13)) throw new SentinelError("internal", "bad data");
        return chunks.map((n) => n * 10);
      },
      schedule: clock.schedule,
    });
    const results = Promise.allSettled([c.submit(1), c.submit(13), c.submit(2)]);
    clock.tick();
    const settled = await results;
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(settled.map((s) => (s.status === "fulfilled" ? s.value : "x"))).toEqual([10, "x", 20]);
  });

  it("fails every chunk of a round on an outage (each is retried by its partition)", async () => {
    const clock = manual();
    let calls = 0;
    const c = createRoundCombiner<number, number>({
      runRound: async () => {
        calls++;
        throw new SentinelError("store_unavailable", "down");
      },
      schedule: clock.schedule,
    });
    const results = Promise.allSettled([c.submit(1), c.submit(2)]);
    clock.tick();
    expect((await results).map((s) => s.status)).toEqual(["rejected", "rejected"]);
    expect(calls).toBe(1);
  });

  it("runs at most maxInFlight rounds at once; what is submitted meanwhile forms the next round", async () => {
    const { clock, rounds, ends, c } = heldRounds({ maxInFlight: 1 });
    const first = c.submit(1);
    clock.tick();
    const rest = [c.submit(2), c.submit(3)];
    clock.tick();
    expect(rounds).toEqual([[1]]);
    ends.shift()!();
    await first;
    await new Promise((r) => setImmediate(r)); // the round's end is seen
    clock.tick();
    expect(rounds).toEqual([[1], [2, 3]]);
    ends.shift()!();
    expect(await Promise.all(rest)).toEqual([2, 3]);
  });

  it("starts a second round while one runs only when a backlog waits, and caps a round's size", async () => {
    const { clock, rounds, ends, c } = heldRounds({
      maxInFlight: 2,
      sizeOf: (n) => n,
      overlapAt: 100,
      maxRoundSize: 150,
    });
    // A live stream's trickle: one round at a time, what arrives meanwhile waits for its end.
    const first = c.submit(10);
    clock.tick();
    const trickle = [c.submit(20), c.submit(30)];
    clock.tick();
    expect(rounds).toEqual([[10]]);
    ends.shift()!();
    await first;
    await new Promise((r) => setImmediate(r));
    clock.tick();
    expect(rounds).toEqual([[10], [20, 30]]);
    // A backlog (100 or more waiting) starts the next round beside the running one, at most 150 each.
    const backlog = [c.submit(60), c.submit(60), c.submit(60), c.submit(60)];
    clock.tick();
    expect(rounds).toEqual([[10], [20, 30], [60, 60]]);
    clock.tick(); // 120 still wait, but two rounds run: the bound holds
    expect(rounds).toHaveLength(3);
    ends.shift()!();
    expect(await Promise.all(trickle)).toEqual([20, 30]);
    await new Promise((r) => setImmediate(r));
    clock.tick();
    expect(rounds).toEqual([[10], [20, 30], [60, 60], [60, 60]]);
    ends.shift()!();
    ends.shift()!();
    expect(await Promise.all(backlog)).toEqual([60, 60, 60, 60]);
  });

  it("takes a chunk larger than the cap as a round of its own", async () => {
    const clock = manual();
    const rounds: number[][] = [];
    const c = createRoundCombiner<number, number>({
      runRound: async (chunks) => {
        rounds.push(chunks);
        return chunks;
      },
      schedule: clock.schedule,
      sizeOf: (n) => n,
      maxRoundSize: 100,
    });
    const all = [c.submit(500), c.submit(40), c.submit(50)];
    clock.tick();
    clock.tick();
    expect(await Promise.all(all)).toEqual([500, 40, 50]);
    expect(rounds).toEqual([[500], [40, 50]]);
  });
});

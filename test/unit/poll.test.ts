import { describe, expect, it } from "vitest";
import { backoffMs, pollUntil, withDeadline } from "../../src/poll.ts";

describe("backoffMs", () => {
  it("doubles from the base and stops at the cap", () => {
    expect([1, 2, 3, 6, 7, 50].map((a) => backoffMs(a))).toEqual([200, 400, 800, 5_000, 5_000, 5_000]);
    expect(backoffMs(3, { baseMs: 200, maxMs: 1_000 })).toBe(1_000);
  });
});

describe("pollUntil", () => {
  it("returns the first truthy answer", async () => {
    let n = 0;
    expect(
      await pollUntil(() => (++n >= 3 ? `after ${n}` : undefined), { timeoutMs: 1_000, everyMs: 1 }),
    ).toBe("after 3");
  });

  it("gives up after the timeout, having asked one last time, and reports the last error", async () => {
    let calls = 0;
    const started = Date.now();
    await expect(
      pollUntil(
        () => {
          calls++;
          throw new Error(`no ${calls}`);
        },
        {
          timeoutMs: 50,
          everyMs: 10,
          onTimeout: (e) => {
            throw new Error(`gave up: ${(e as Error).message}`);
          },
        },
      ),
    ).rejects.toThrow(/gave up: no \d+/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(calls).toBeGreaterThan(2);
    expect(await pollUntil(() => false, { timeoutMs: 20, everyMs: 5 })).toBeUndefined();
  });
});

describe("withDeadline", () => {
  it("gives the promise's value when it comes first", async () => {
    expect(await withDeadline(Promise.resolve("done"), 1_000, () => new Error("late"))).toBe("done");
  });

  it("fails with the deadline's error when the promise is slower, and the promise's own failure later is handled", async () => {
    const slow = new Promise<string>((_, reject) => setTimeout(() => reject(new Error("slow failure")), 50));
    await expect(withDeadline(slow, 5, () => new Error("deadline"))).rejects.toThrow("deadline");
    await new Promise((resolve) => setTimeout(resolve, 80)); // an unhandled rejection would fail the run
  });

  it("passes the promise's own failure through when it comes first", async () => {
    await expect(
      withDeadline(Promise.reject(new Error("boom")), 1_000, () => new Error("late")),
    ).rejects.toThrow("boom");
  });
});

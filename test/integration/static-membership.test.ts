import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext } from "../support/context.ts";
import { type Proc, spawnSentinel } from "../support/processes.ts";
import { eventually } from "../support/topics.ts";

/*
 * Issue 22: a consumer SIGKILLed and started again under the same CONSUMER_INSTANCE_ID (Kafka's
 * static membership, which kafkajs speaks but never used; our fork's patch 006) takes its
 * partitions back without a rebalance — the other member never stops. `sentinel consume` runs as an
 * operator runs it, against the real broker.
 */

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx?.cleanup();
});

type Joined = { memberId: string; partitions: number[] };

/** The process's "joined the group" log lines, oldest first. */
function joins(p: Proc): Joined[] {
  return p
    .stdout()
    .split("\n")
    .filter((line) => line.includes('"joined the group"'))
    .map((line) => JSON.parse(line) as Joined);
}

/** Waits until the process has joined the group `count` times; its last join. */
async function joined(p: Proc, count: number): Promise<Joined> {
  const ok = await eventually(async () => joins(p).length >= count, 60_000);
  expect(ok, p.output()).toBe(true);
  return joins(p).at(-1)!;
}

describe("a static member (CONSUMER_INSTANCE_ID)", () => {
  it("SIGKILLed and started again takes its partitions back without a rebalance", async () => {
    // A long session: the restart must be back before it ends even on a loaded CI box (the
    // behaviour under test does not depend on its length).
    const env = { ...ctx.env, LOG_LEVEL: "info", CONSUMER_SESSION_TIMEOUT_MS: "30000" };
    const procs: Proc[] = [];
    const start = (extra: Record<string, string>) => {
      const p = spawnSentinel(["consume"], { ...env, ...extra });
      procs.push(p);
      return p;
    };
    try {
      const other = start({}); // a dynamic member
      await joined(other, 1);
      const first = start({ CONSUMER_INSTANCE_ID: "scorer-a" });
      const before = await joined(first, 1);
      // The second member's join rebalanced the group: the other member joined again.
      const settled = await joined(other, 2);
      expect(before.partitions.length).toBeGreaterThan(0);
      expect(settled.partitions.length).toBeGreaterThan(0);
      expect([...before.partitions, ...settled.partitions].sort((a, b) => a - b)).toEqual([
        ...Array(ctx.config.kafka.transactionsPartitions).keys(),
      ]);

      first.child.kill("SIGKILL");
      const again = start({ CONSUMER_INSTANCE_ID: "scorer-a" });
      const after = await joined(again, 1);
      expect(after.memberId).not.toBe(before.memberId); // a new member, in the dead one's place
      expect(after.partitions).toEqual(before.partitions);
      // No rebalance: the other member was never asked to join again. (Without the instance id
      // the new process is a new member: the group rebalances as soon as it joins.)
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(joins(other), other.output()).toHaveLength(2);
    } finally {
      await Promise.all(procs.map((p) => p.stop("SIGTERM", 15_000)));
    }
  });
});

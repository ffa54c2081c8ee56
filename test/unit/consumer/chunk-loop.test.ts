import type { KafkaMessage } from "kafkajs";
import { describe, expect, it } from "vitest";
import { type ChunkLoop, processInChunks } from "../../../src/consumer/chunk-loop.ts";
import { SentinelError } from "../../../src/errors.ts";

/* The retry/commit loop with a recording double of kafkajs's batch payload. */

const messages = (n: number, from = 10) =>
  [...Array(n)].map(
    (_, i) => ({ offset: String(from + i), key: null, value: null, timestamp: "0" }) as KafkaMessage,
  );

function harness(over: Partial<ChunkLoop> = {}) {
  const events: string[] = [];
  const loop: ChunkLoop = {
    chunkSize: 2,
    handleChunk: async (c) => void events.push(`handle ${c.map((m) => m.offset).join(",")}`),
    abandoned: () => false,
    isStale: () => false,
    resolveOffset: (o) => void events.push(`resolve ${o}`),
    commit: async (next) => void events.push(`commit ${next}`),
    heartbeat: async () => void events.push("heartbeat"),
    sleep: async (ms) => void events.push(`sleep ${ms}`),
    ...over,
  };
  return { loop, events };
}

describe("processInChunks", () => {
  it("handles chunk by chunk, committing each chunk's next offset after it is done", async () => {
    const { loop, events } = harness();
    await processInChunks(messages(3), loop);
    expect(events).toEqual([
      "handle 10,11",
      "resolve 11",
      "commit 12",
      "heartbeat",
      "handle 12",
      "resolve 12",
      "commit 13",
      "heartbeat",
    ]);
    // The commit follows the chunk's durable work and never precedes its resolveOffset.
  });

  it("retries a failing chunk with backoff and heartbeats, and commits nothing until it passes", async () => {
    let failures = 2;
    const retries: Array<[number, string]> = [];
    const { loop, events } = harness({
      chunkSize: 5,
      handleChunk: async () => {
        if (failures-- > 0) throw new SentinelError("store_unavailable", "down");
        events.push("handled");
      },
      onRetry: (e) => void retries.push([e.attempt, e.code]),
    });
    await processInChunks(messages(2), loop);
    expect(retries).toEqual([
      [1, "store_unavailable"],
      [2, "store_unavailable"],
    ]);
    expect(events).toEqual([
      "heartbeat",
      "sleep 200",
      "heartbeat",
      "sleep 400",
      "handled",
      "resolve 11",
      "commit 12",
      "heartbeat",
    ]);
  });

  it("waits at most a second between tries, however long the outage", async () => {
    let failures = 6;
    const { loop, events } = harness({
      chunkSize: 5,
      handleChunk: async () => {
        if (failures-- > 0) throw new SentinelError("store_unavailable", "down");
      },
    });
    await processInChunks(messages(1), loop);
    expect(events.filter((e) => e.startsWith("sleep"))).toEqual([
      "sleep 200",
      "sleep 400",
      "sleep 800",
      "sleep 1000",
      "sleep 1000",
      "sleep 1000",
    ]);
  });

  it("abandons a chunk uncommitted once the partition is not ours", async () => {
    let calls = 0;
    let gone = false;
    const { loop, events } = harness({
      handleChunk: async () => {
        calls++;
        gone = true; // a rebalance happens while the chunk fails
        throw new SentinelError("store_unavailable", "down");
      },
      abandoned: () => gone,
    });
    await processInChunks(messages(4), loop);
    expect(calls).toBe(1);
    expect(events.filter((e) => e.startsWith("commit") || e.startsWith("resolve"))).toEqual([]);
  });

  it("ends the batch when a heartbeat is refused while retrying (the group rebalances)", async () => {
    const { loop, events } = harness({
      handleChunk: async () => {
        throw new SentinelError("store_unavailable", "down");
      },
      heartbeat: async () => {
        throw new Error("The group is rebalancing, so a rejoin is needed");
      },
    });
    expect(await processInChunks(messages(2), loop)).toEqual({ done: false, resumeAt: "10" });
    expect(events).toEqual([]);
  });

  it("does not commit a stale batch; a failed commit is reported and the batch goes on", async () => {
    const stale = harness({ isStale: () => true });
    await processInChunks(messages(2), stale.loop);
    expect(stale.events).toEqual(["handle 10,11"]);
    const failed: string[] = [];
    const failing = harness({
      commit: async () => {
        throw new Error("coordinator moved");
      },
      onCommitFailed: (last) => void failed.push(last),
    });
    await processInChunks(messages(4), failing.loop);
    await new Promise((r) => setImmediate(r));
    expect(failing.events).toEqual([
      "handle 10,11",
      "resolve 11",
      "heartbeat",
      "handle 12,13",
      "resolve 13",
      "heartbeat",
    ]);
    expect(failed).toEqual(["11", "13"]);
  });
});

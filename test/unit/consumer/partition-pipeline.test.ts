import type { EachBatchPayload } from "kafkajs";
import { describe, expect, it } from "vitest";
import type { BatchOutcome } from "../../../src/consumer/chunk-loop.ts";
import { createPartitionPipelines, type PipelineOptions } from "../../../src/consumer/partition-pipeline.ts";

/* Issue 21: the next fetch overlaps persistence; order per partition, bounds and gaps kept. */

function batch(partition: number, first: number, count: number, resolved: string[], bytes = 10) {
  return {
    batch: {
      topic: "t",
      partition,
      messages: Array.from({ length: count }, (_, i) => ({
        offset: String(first + i),
        value: Buffer.alloc(bytes),
        key: null,
      })),
    },
    resolveOffset: (o: string) => resolved.push(`${partition}:${o}`),
    isRunning: () => true,
  } as unknown as EachBatchPayload;
}

const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((r) => {
    open = r;
  });
  return { open, opened };
};

function harness(outcomes: Record<string, BatchOutcome> = {}, maxInFlightBytes = 1_000_000) {
  const events: string[] = [];
  const gates = new Map<string, ReturnType<typeof gate>>();
  const gateOf = (key: string) => {
    if (!gates.has(key)) gates.set(key, gate());
    return gates.get(key)!;
  };
  const seeks: string[] = [];
  const options: PipelineOptions = {
    maxInFlightBytes,
    maxMessages: 3,
    process: async (payload) => {
      const key = `${payload.batch.partition}:${payload.batch.messages[0]!.offset}`;
      events.push(`start ${key}`);
      await gateOf(key).opened;
      events.push(`end ${key}`);
      return outcomes[key] ?? { done: true };
    },
    seek: (_topic, partition, offset) => seeks.push(`${partition}:${offset}`),
  };
  return {
    pipelines: createPartitionPipelines(options),
    events,
    seeks,
    finish: (key: string) => gateOf(key).open(),
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("partition pipelines", () => {
  it("returns to kafkajs at once (its fetch position moved past the batch), works each partition in order, partitions side by side", async () => {
    const resolved: string[] = [];
    const { pipelines, events, finish } = harness();
    await pipelines.enqueue(batch(0, 0, 2, resolved));
    await pipelines.enqueue(batch(0, 2, 2, resolved));
    await pipelines.enqueue(batch(1, 0, 2, resolved));
    expect(resolved).toEqual(["0:1", "0:3", "1:1"]);
    await tick();
    expect(events).toEqual(["start 0:0", "start 1:0"]);
    finish("1:0");
    finish("0:2");
    await tick();
    expect(events).toEqual(["start 0:0", "start 1:0", "end 1:0"]);
    finish("0:0");
    await pipelines.idle();
    expect(events).toEqual(["start 0:0", "start 1:0", "end 1:0", "end 0:0", "start 0:2", "end 0:2"]);
    expect(pipelines.inFlightBytes).toBe(0);
  });

  it("holds kafkajs (and its next fetch) while more than the bound is in flight", async () => {
    const resolved: string[] = [];
    const { pipelines, finish } = harness({}, 25);
    await pipelines.enqueue(batch(0, 0, 2, resolved)); // 20 bytes
    let returned = false;
    const second = pipelines.enqueue(batch(1, 0, 1, resolved)).then(() => {
      returned = true;
    }); // 30 > 25
    await tick();
    expect(returned).toBe(false);
    finish("0:0");
    await second;
    expect(returned).toBe(true);
    finish("1:0");
    await pipelines.idle();
  });

  it("after a batch left undone: drops the queued ones, moves the fetch back, and takes nothing after the gap until it comes again", async () => {
    const resolved: string[] = [];
    const { pipelines, events, seeks, finish } = harness({ "0:0": { done: false, resumeAt: "1" } });
    await pipelines.enqueue(batch(0, 0, 2, resolved));
    await pipelines.enqueue(batch(0, 2, 2, resolved));
    finish("0:0");
    await pipelines.idle();
    expect(seeks).toEqual(["0:1"]);
    expect(events).toEqual(["start 0:0", "end 0:0"]);
    // Fetched before the seek took effect: dropped, not resolved.
    await pipelines.enqueue(batch(0, 4, 2, resolved));
    expect(resolved).toEqual(["0:1", "0:3"]);
    // The refetch from offset 1: taken.
    await pipelines.enqueue(batch(0, 1, 5, resolved));
    finish("0:1");
    await pipelines.idle();
    expect(events).toEqual(["start 0:0", "end 0:0", "start 0:1", "end 0:1"]);
    expect(resolved).toEqual(["0:1", "0:3", "0:5"]);
  });

  it("a seek refused (kafkajs restarting the consumer: no group) is reported, never an unhandled rejection", async () => {
    const resolved: string[] = [];
    const refused: string[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const pipelines = createPartitionPipelines({
        maxInFlightBytes: 1_000_000,
        maxMessages: 3,
        process: async () => ({ done: false, resumeAt: "0" }),
        seek: () => {
          throw new Error("Consumer group was not initialized, consumer#run must be called first");
        },
        onSeekFailed: (partition, error) => refused.push(`${partition}: ${error.message}`),
      });
      await pipelines.enqueue(batch(0, 0, 2, resolved));
      await pipelines.idle();
      await new Promise((r) => setTimeout(r, 20));
      expect(refused).toEqual(["0: Consumer group was not initialized, consumer#run must be called first"]);
      expect(unhandled).toEqual([]);
      // The rejoin that follows resets the lane: the refetch from the committed offset is taken.
      pipelines.reset();
      await pipelines.enqueue(batch(0, 5, 1, resolved));
      expect(resolved).toEqual(["0:1", "0:5"]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("a rejoin drops what is queued (the batch being worked on finishes)", async () => {
    const resolved: string[] = [];
    const { pipelines, events, finish } = harness();
    await pipelines.enqueue(batch(0, 0, 1, resolved));
    await pipelines.enqueue(batch(0, 1, 1, resolved));
    await tick();
    pipelines.reset();
    finish("0:0");
    await pipelines.idle();
    expect(events).toEqual(["start 0:0", "end 0:0"]);
    expect(pipelines.inFlightBytes).toBe(0);
  });

  it("a batch left undone across a rejoin neither seeks nor drops the new generation's batches", async () => {
    const resolved: string[] = [];
    const { pipelines, events, seeks, finish } = harness({ "0:5": { done: false, resumeAt: "5" } });
    await pipelines.enqueue(batch(0, 5, 1, resolved));
    await tick();
    pipelines.reset(); // the group rejoined while 5 was being worked on
    await pipelines.enqueue(batch(0, 3, 2, resolved)); // the new generation refetches from its commit
    finish("0:5"); // its heartbeat was refused: left undone, for the group
    finish("0:3");
    await pipelines.idle();
    // A seek to 5 would be kafkajs's position once the partition is ours again — past 3 and 4,
    // stored perhaps but not committed.
    expect(seeks).toEqual([]);
    expect(events).toEqual(["start 0:5", "end 0:5", "start 0:3", "end 0:3"]);
    await pipelines.enqueue(batch(0, 6, 1, resolved)); // no floor left behind: taken
    expect(resolved).toEqual(["0:5", "0:4", "0:6"]);
    finish("0:6");
    await pipelines.idle();
  });

  it("works the batches queued meanwhile for a partition as one (at most maxMessages)", async () => {
    const resolved: string[] = [];
    const { pipelines, events, finish } = harness();
    await pipelines.enqueue(batch(0, 0, 1, resolved));
    await pipelines.enqueue(batch(0, 1, 1, resolved));
    await pipelines.enqueue(batch(0, 2, 1, resolved));
    await pipelines.enqueue(batch(0, 3, 1, resolved));
    await pipelines.enqueue(batch(0, 4, 1, resolved));
    finish("0:0");
    finish("0:1");
    finish("0:4");
    await pipelines.idle();
    // 0 alone (it started at once), then 1–3 (three: maxMessages), then 4.
    expect(events).toEqual(["start 0:0", "end 0:0", "start 0:1", "end 0:1", "start 0:4", "end 0:4"]);
  });
});

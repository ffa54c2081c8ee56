import type { EachBatchPayload } from "kafkajs";
import { getOrSet } from "../maps.ts";
import type { BatchOutcome } from "./chunk-loop.ts";

/*
 * A consumer that does not wait on itself (issue 21). kafkajs fetches again only once every batch
 * of the previous fetch has been handled, so the next fetch used to wait for this round's
 * PostgreSQL write and produce. Here kafkajs's handler only queues the batch and moves kafkajs's
 * fetch position past it; each partition's queue is worked in order by one worker, which commits
 * a chunk's offset only once it is durable (law 2, unchanged). So the next fetch, and the rounds of
 * the other partitions, overlap this round's persistence; order per partition is unchanged.
 *
 * Bounded: at most `maxInFlightBytes` of message payload queued or being worked on; kafkajs's
 * handler waits (and so its next fetch) while it is over.
 *
 * When a worker leaves a batch undone (a heartbeat refused: the group rebalances; stale; stopping)
 * the partition's queued batches are dropped; the fetch position is moved back to the first offset
 * not durable (`seek`), and batches fetched before that takes effect (they start later) are
 * dropped too, so nothing after a gap is ever committed. A rejoin (`reset`) starts every partition
 * again from its committed offset, which is never after an offset not durable.
 *
 * A batch left undone *across* a rejoin moves nothing: the rejoin already restarts its partition
 * from the committed offset. A floor or a seek from it would outlive its generation — kafkajs keeps
 * a seek of a partition assigned elsewhere until the partition comes back, then moves its position
 * there, past messages stored but not committed, which nothing committed again once the load had
 * ended (a partition left with lag 5 in a three-broker chaos run, issue 22).
 */

export type PipelineOptions = {
  maxInFlightBytes: number;
  /** Batches queued for a partition are worked as one of at most this many messages. */
  maxMessages: number;
  /** Handles one batch (the chunk loop); never throws. */
  process(payload: EachBatchPayload): Promise<BatchOutcome>;
  /** Moves kafkajs's fetch position of a partition back to `offset`. */
  seek(topic: string, partition: number, offset: string): void;
  /** A seek refused (the consumer not running): logged; the rejoin that follows resets the lanes. */
  onSeekFailed?(partition: number, error: Error): void;
  onDropped?(event: { topic: string; partition: number; batches: number; reason: string }): void;
};

type Entry = { payload: EachBatchPayload; bytes: number };
type Lane = {
  topic: string;
  partition: number;
  queue: Entry[];
  busy: boolean;
  working: Promise<void>;
  floor: bigint | null;
};

export type PartitionPipelines = {
  /** kafkajs's eachBatch: queues the batch (or drops it, see above); waits while over the bound. */
  enqueue(payload: EachBatchPayload): Promise<void>;
  /** A new generation: queued batches are dropped, every partition refetches from its commit. */
  reset(): void;
  /** Resolves once every worker is idle (queued batches of a stopping consumer are left). */
  idle(): Promise<void>;
  /** Whether nothing of this partition is queued or being worked on. */
  isIdle(partition: number): boolean;
  readonly inFlightBytes: number;
  /** How many rejoins (resets) there have been: a batch's generation is this when it is worked on. */
  readonly generation: number;
};

const bytesOf = (payload: EachBatchPayload) =>
  payload.batch.messages.reduce((n, m) => n + (m.value?.length ?? 0) + (m.key?.length ?? 0), 0);

/**
 * The next queued batches of a lane as one (at most `maxMessages`, or one batch): while a round
 * runs, fetches go on and queue small batches; worked one by one, each would be a chunk of its
 * own in the next round, and the rounds would not keep up.
 */
function take(lane: Lane, maxMessages: number): Entry | undefined {
  const first = lane.queue.shift();
  if (!first) return undefined;
  let count = first.payload.batch.messages.length;
  const taken = [first];
  while (lane.queue[0] && count + lane.queue[0].payload.batch.messages.length <= maxMessages) {
    const next = lane.queue.shift()!;
    count += next.payload.batch.messages.length;
    taken.push(next);
  }
  if (taken.length === 1) return first;
  const last = taken.at(-1)!.payload;
  const batch = Object.assign(Object.create(Object.getPrototypeOf(last.batch)), last.batch, {
    messages: taken.flatMap((e) => e.payload.batch.messages),
  });
  return { payload: { ...last, batch }, bytes: taken.reduce((n, e) => n + e.bytes, 0) };
}

/** Whether no lane of the partition has anything queued or being worked on. */
const idleIn = (lanes: Map<string, Lane>, partition: number) =>
  ![...lanes.values()].some((l) => l.partition === partition && (l.busy || l.queue.length > 0));

/** Moves kafkajs's fetch position of the lane back to `offset`; what is fetched past it waits. */
function moveBack(options: PipelineOptions, lane: Lane, offset: string): void {
  lane.floor = BigInt(offset);
  try {
    options.seek(lane.topic, lane.partition, offset);
  } catch (error) {
    // No group to seek in (kafkajs is restarting the consumer): its rejoin fetches from the
    // committed offset, at or before this one, and resets the lanes. Thrown from here it was an
    // unhandled rejection that ended the process (three-broker chaos run, issue 22).
    options.onSeekFailed?.(lane.partition, error as Error);
  }
}

export function createPartitionPipelines(options: PipelineOptions): PartitionPipelines {
  const lanes = new Map<string, Lane>();
  /** Counts rejoins: an outcome of a batch worked on across one belongs to a generation gone. */
  let generation = 0;
  let inFlight = 0;
  let wake: (() => void) | null = null;
  let waiting: Promise<void> | null = null;

  const release = (bytes: number) => {
    inFlight -= bytes;
    wake?.();
  };

  const drop = (lane: Lane, reason: string) => {
    if (lane.queue.length === 0) return;
    const { topic, partition } = lane;
    options.onDropped?.({ topic, partition, batches: lane.queue.length, reason });
    for (const e of lane.queue) release(e.bytes);
    lane.queue = [];
  };

  /** Works a lane's queue in order; `busy` is cleared in the same turn the queue is seen empty. */
  async function work(lane: Lane): Promise<void> {
    for (;;) {
      const entry = take(lane, options.maxMessages);
      if (!entry) {
        lane.busy = false;
        return;
      }
      const workedIn = generation;
      let outcome: BatchOutcome;
      try {
        outcome = await options.process(entry.payload);
      } catch {
        outcome = { done: false, resumeAt: entry.payload.batch.messages[0]!.offset };
      }
      release(entry.bytes);
      // Left undone across a rejoin: nothing to move back (see the header).
      if (outcome.done || workedIn !== generation) continue;
      drop(lane, "batch left undone");
      if (outcome.resumeAt !== null) moveBack(options, lane, outcome.resumeAt);
      lane.busy = false;
      return;
    }
  }

  /** Resolves when some payload is released (or after 200 ms: the caller checks again). */
  function released(): Promise<void> {
    waiting ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), 200);
      const done = () => {
        clearTimeout(timer);
        wake = null;
        waiting = null;
        resolve();
      };
      wake = done;
    });
    return waiting;
  }

  return {
    get inFlightBytes() {
      return inFlight;
    },
    get generation() {
      return generation;
    },
    async enqueue(payload) {
      const { batch } = payload;
      const first = batch.messages[0];
      if (!first) return;
      const { topic, partition } = batch;
      const lane = getOrSet(lanes, `${topic}:${partition}`, () => ({
        topic,
        partition,
        queue: [],
        busy: false,
        working: Promise.resolve(),
        floor: null,
      }));
      if (lane.floor !== null) {
        // Fetched before the partition was moved back: its messages come again.
        if (BigInt(first.offset) > lane.floor) return;
        lane.floor = null;
      }
      const bytes = bytesOf(payload);
      payload.resolveOffset(batch.messages.at(-1)!.offset);
      lane.queue.push({ payload, bytes });
      inFlight += bytes;
      if (!lane.busy) {
        lane.busy = true;
        lane.working = work(lane);
      }
      while (inFlight > options.maxInFlightBytes && payload.isRunning()) await released();
    },
    reset() {
      generation++;
      for (const lane of lanes.values()) {
        drop(lane, "rejoined");
        lane.floor = null;
      }
    },
    isIdle: (partition) => idleIn(lanes, partition),
    async idle() {
      for (;;) {
        const busy = [...lanes.values()].filter((l) => l.busy).map((l) => l.working);
        if (busy.length === 0) return;
        await Promise.allSettled(busy);
      }
    },
  };
}

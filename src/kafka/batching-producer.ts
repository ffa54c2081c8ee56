import type { Message, Producer } from "kafkajs";
import { SentinelError } from "../errors.ts";
import type { Metrics } from "../metrics.ts";
import { withDeadline } from "../poll.ts";

/*
 * kafkajs has no linger.ms: each send() is its own produce request. The ingress gets thousands of
 * concurrent requests, so we gather them into one produce request per small time window (or per
 * count/bytes bound), and settle each caller with the outcome of the batch its message rode in.
 * One batch is in flight at a time by default (`maxInFlight`): a later batch never overtakes an
 * earlier one, so a user's transactions reach the topic in the order they were accepted (law 3);
 * meanwhile messages wait and batches grow, which is the backpressure we want. A batch that fails
 * or misses its deadline fails only its callers: they get 503. Such a batch may still be written
 * (its request was sent): the client's retry with the same transaction_id is then a duplicate the
 * consumer absorbs (law 2), never a second transaction. Nothing here re-sends a message itself.
 */

type Pending = {
  message: Message;
  bytes: number;
  enqueuedAt: number;
  resolve: () => void;
  reject: (error: SentinelError) => void;
};

export type BatchingProducer = {
  /** Resolves once Kafka acknowledged (acks=all); rejects with SentinelError(unavailable) otherwise. */
  send(message: Message): Promise<void>;
  /** Sends whatever is queued and waits for every batch in flight. */
  flush(): Promise<void>;
  readonly pending: number;
};

export function createBatchingProducer({
  producer,
  topic,
  lingerMs,
  maxMessages,
  maxBytes,
  timeoutMs,
  maxInFlight = 1,
  metrics,
  now = Date.now,
}: {
  producer: Pick<Producer, "send">;
  topic: string;
  lingerMs: number;
  maxMessages: number;
  maxBytes: number;
  timeoutMs: number;
  maxInFlight?: number;
  metrics?: Pick<Metrics["producer"], "batchSize" | "batchDuration">;
  now?: () => number;
}): BatchingProducer {
  let queue: Pending[] = [];
  let queuedBytes = 0;
  let timer: NodeJS.Timeout | undefined;
  const inFlight = new Set<Promise<void>>();

  let immediate: NodeJS.Immediate | undefined;

  /*
   * When nothing is in flight, the batch leaves at the end of this turn of the event loop (it
   * still gathers every request parsed in the same turn): no linger at low load. When batches are
   * in flight, messages wait up to lingerMs (or for a slot) and ride together: batching at high load.
   */
  function schedule(): void {
    if (queue.length >= maxMessages || queuedBytes >= maxBytes) {
      dispatch();
    } else if (inFlight.size === 0) {
      immediate ??= setImmediate(dispatch);
    } else if (timer === undefined) {
      timer = setTimeout(dispatch, lingerMs);
    }
  }

  function dispatch(): void {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (immediate !== undefined) {
      clearImmediate(immediate);
      immediate = undefined;
    }
    // Messages that waited out their whole deadline behind busy batches fail now, not later.
    const expiredBefore = now() - timeoutMs;
    while (queue.length > 0 && queue[0]!.enqueuedAt <= expiredBefore) {
      const p = queue.shift()!;
      queuedBytes -= p.bytes;
      p.reject(new SentinelError("unavailable", `Kafka did not acknowledge within ${timeoutMs} ms`));
    }
    while (queue.length > 0 && inFlight.size < maxInFlight) {
      // Take up to maxMessages / maxBytes from the head of the queue.
      let count = 0;
      let bytes = 0;
      while (
        count < queue.length &&
        count < maxMessages &&
        (count === 0 || bytes + queue[count]!.bytes <= maxBytes)
      ) {
        bytes += queue[count]!.bytes;
        count++;
      }
      const batch = queue.slice(0, count);
      queue = queue.slice(count);
      queuedBytes -= bytes;
      const run = sendBatch(batch).finally(() => {
        inFlight.delete(run);
        if (queue.length > 0) dispatch();
      });
      inFlight.add(run);
    }
  }

  async function sendBatch(batch: Pending[]): Promise<void> {
    const started = now();
    // The deadline belongs to the oldest request: it must hear back within timeoutMs of arriving.
    const remaining = Math.max(1, timeoutMs - (started - batch[0]!.enqueuedAt));
    metrics?.batchSize.observe(batch.length);
    try {
      await withDeadline(
        producer.send({ topic, acks: -1, timeout: remaining, messages: batch.map((p) => p.message) }),
        remaining,
        () => new SentinelError("unavailable", `Kafka did not acknowledge within ${timeoutMs} ms`),
      );
      metrics?.batchDuration.observe({ outcome: "ok" }, (now() - started) / 1000);
      for (const p of batch) p.resolve();
    } catch (error) {
      metrics?.batchDuration.observe({ outcome: "error" }, (now() - started) / 1000);
      const failure =
        error instanceof SentinelError
          ? error
          : new SentinelError("unavailable", "Kafka could not take the message", { cause: error });
      for (const p of batch) p.reject(failure);
    }
  }

  return {
    send(message) {
      return new Promise<void>((resolve, reject) => {
        const bytes = (message.value?.length ?? 0) + (message.key?.length ?? 0) + 64;
        queue.push({ message, bytes, enqueuedAt: now(), resolve, reject });
        queuedBytes += bytes;
        schedule();
      });
    },
    async flush() {
      dispatch();
      while (queue.length > 0 || inFlight.size > 0) {
        await Promise.allSettled([...inFlight]);
        dispatch();
      }
    },
    get pending() {
      return queue.length;
    },
  };
}

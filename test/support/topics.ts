import { randomBytes } from "node:crypto";
import type { Kafka, KafkaMessage } from "kafkajs";
import { withAdmin } from "../../src/kafka/admin.ts";
import { pollUntil } from "../../src/poll.ts";

export type ReadMessage = KafkaMessage & { partition: number };

/**
 * Reads `topic` from the beginning with a fresh group until `done(messages)` says so or `timeoutMs`
 * passes (then it returns what it has: the caller's assertion says what was missing).
 */
async function consumeUntil(
  kafka: Kafka,
  topic: string,
  timeoutMs: number,
  done: (got: ReadMessage[], last: ReadMessage) => boolean,
): Promise<ReadMessage[]> {
  const consumer = kafka.consumer({
    groupId: `reader-${randomBytes(4).toString("hex")}`,
    maxWaitTimeInMs: 100,
  });
  const got: ReadMessage[] = [];
  let finished = false;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      void consumer.run({
        eachBatch: async ({ batch }) => {
          if (finished) return;
          for (const m of batch.messages) {
            const message = { ...m, partition: batch.partition };
            got.push(message);
            if (done(got, message)) {
              finished = true;
              clearTimeout(timer);
              resolve();
              return;
            }
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}

/** The first `count` messages of `topic` (or fewer, after `timeoutMs`). */
export function readTopic(
  kafka: Kafka,
  topic: string,
  count: number,
  timeoutMs = 30_000,
): Promise<ReadMessage[]> {
  return consumeUntil(kafka, topic, timeoutMs, (got) => got.length >= count);
}

/**
 * Every message on `topic` up to its current end (each partition's high watermark), so the caller
 * sees all of it however many there are; gives up after `timeoutMs` with what it has.
 */
export async function readAll(kafka: Kafka, topic: string, timeoutMs = 60_000): Promise<ReadMessage[]> {
  const ends = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
  const remaining = new Map(ends.filter((e) => Number(e.high) > 0).map((e) => [e.partition, BigInt(e.high)]));
  if (remaining.size === 0) return [];
  return consumeUntil(kafka, topic, timeoutMs, (_got, m) => {
    const end = remaining.get(m.partition);
    if (end !== undefined && BigInt(m.offset) + 1n >= end) remaining.delete(m.partition);
    return remaining.size === 0;
  });
}

/** Waits until `probe` returns true, polling every `everyMs`, for at most `timeoutMs`. */
export async function eventually(
  probe: () => Promise<boolean>,
  timeoutMs = 60_000,
  everyMs = 250,
): Promise<boolean> {
  return (await pollUntil(probe, { timeoutMs, everyMs })) ?? false;
}

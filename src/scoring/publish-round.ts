import type { Producer } from "kafkajs";
import type { Decision } from "../domain/decision.ts";
import { encodeDeadLetter } from "../kafka/dead-letter-codec.ts";
import { createPublisher } from "../kafka/publisher.ts";
import type { DeadLetter } from "./round.ts";

/*
 * The last step of a round, shared by the live scorer and replay: its decisions on
 * `transactions.decisions` (key user_id) and its dead letters on `transactions.dlq`, in one publish
 * (acks=all, split to fit the broker's limits). Offsets are committed only after it (law 2).
 */

export type RoundOutput = {
  decisions: readonly Decision[];
  /** Each letter with the partition its message was read from (its x-source-partition header). */
  deadLetters: ReadonlyArray<{ partition: number; letter: DeadLetter }>;
};

export type PublishRound = (output: RoundOutput) => Promise<void>;

export function createRoundPublisher({
  producer,
  topics,
  maxRequestBytes,
}: {
  producer: Producer;
  topics: { transactions: string; decisions: string; dlq: string };
  /** The largest produce request (bytes): decisions and letters are split to fit. */
  maxRequestBytes: number;
}): PublishRound {
  const publisher = createPublisher({ producer, maxRequestBytes });
  /** @throws SentinelError(broker_unavailable) when Kafka does not acknowledge in time. */
  return ({ decisions, deadLetters }) =>
    publisher.publish([
      {
        topic: topics.decisions,
        messages: decisions.map((d) => ({ key: d.user_id, value: JSON.stringify(d) })),
      },
      {
        topic: topics.dlq,
        messages: deadLetters.map(({ partition, letter }) =>
          encodeDeadLetter(letter, topics.transactions, partition, maxRequestBytes),
        ),
      },
    ]);
}

/** What a scored round publishes: every decision (stored ones again: a redelivery republishes) and letter. */
export function roundOutput(
  chunks: ReadonlyArray<{ partition: number }>,
  results: ReadonlyArray<{
    decisions: ReadonlyArray<{ decision: Decision }>;
    deadLetters: readonly DeadLetter[];
  }>,
): RoundOutput {
  return {
    decisions: results.flatMap((r) => r.decisions.map((d) => d.decision)),
    deadLetters: chunks.flatMap((c, i) =>
      results[i]!.deadLetters.map((letter) => ({ partition: c.partition, letter })),
    ),
  };
}

import type { KafkaMessage } from "kafkajs";
import { isRetryable, SentinelError } from "../errors.ts";
import type { DeadLetter } from "../kafka/dead-letter-codec.ts";
import { type ChunkResult, emptyResult } from "../scoring/round.ts";

/*
 * Narrowing a refused chunk down to the messages PostgreSQL refuses (law 4), shared by the live
 * consumer and replay. A non-retryable failure splits the chunk in halves, scored in offset order,
 * down to single messages; each one still refused (tried once more alone, in case the fault cleared
 * meanwhile) becomes a `store_rejected` dead letter and the
 * rest of the chunk is stored. When every message of a chunk of several is refused, the fault is
 * not in the messages (a revoked grant, a broken deploy): nothing is dead-lettered and the whole
 * chunk fails as an outage, to be retried. Retryable failures propagate at once.
 */

export type Halved = { result: ChunkResult; refused: DeadLetter[] };

/**
 * @throws the retryable error of `score`, or SentinelError(store_unavailable) when every message
 * of a chunk of several was refused.
 */
export async function scoreHalving(
  score: (messages: KafkaMessage[]) => Promise<ChunkResult>,
  messages: KafkaMessage[],
): Promise<Halved> {
  const first: DeadLetter[] = [];
  const result = await halve(score, messages, first);
  if (first.length > 0 && first.length === messages.length && messages.length > 1) {
    throw new SentinelError(
      "store_unavailable",
      `PostgreSQL refused every one of ${messages.length} messages (${first[0]!.detail}): an outage, not poison`,
    );
  }
  // A fault that clears while the chunk is being halved (a constraint dropped, a grant restored)
  // would leave good messages refused: each is tried once more, alone, before it is dead-lettered.
  const refused: DeadLetter[] = [];
  for (const letter of first) {
    const again = await halve(score, [letter.message as KafkaMessage], refused);
    result.decisions.push(...again.decisions);
    result.deadLetters.push(...again.deadLetters);
    result.redecided.push(...again.redecided);
  }
  return { result, refused };
}

async function halve(
  score: (messages: KafkaMessage[]) => Promise<ChunkResult>,
  messages: KafkaMessage[],
  refused: DeadLetter[],
): Promise<ChunkResult> {
  try {
    return await score(messages);
  } catch (error) {
    if (isRetryable(error)) throw error;
    if (messages.length === 1) {
      refused.push({ message: messages[0]!, reason: "store_rejected", detail: (error as Error).message });
      return emptyResult();
    }
    const mid = Math.floor(messages.length / 2);
    const first = await halve(score, messages.slice(0, mid), refused);
    const second = await halve(score, messages.slice(mid), refused);
    return {
      decisions: [...first.decisions, ...second.decisions],
      deadLetters: [...first.deadLetters, ...second.deadLetters],
      redecided: [...first.redecided, ...second.redecided],
    };
  }
}

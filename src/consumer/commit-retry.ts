import { backoffMs } from "../poll.ts";

/*
 * A chunk's commit is sent without waiting for it (chunk-loop.ts), and a later chunk's commit
 * covers a refused one — while messages keep coming. A partition's *last* commit refused with no
 * rejoin after it (the request timed out on a busy coordinator, the coordinator moving) was never
 * sent again: its messages stored, decided and published, its lag left > 0 until the next rebalance
 * (a partition left with lag at the end of a three-broker chaos run in CI, issue 22). So a refused
 * commit is sent again, with backoff, while it is still this partition's latest and still ours;
 * not when the group is rebalancing (the rejoin restarts the partition from its committed offset).
 */

const REBALANCING = new Set([
  "REBALANCE_IN_PROGRESS",
  "ILLEGAL_GENERATION",
  "UNKNOWN_MEMBER_ID",
  "FENCED_INSTANCE_ID",
]);
export const COMMIT_ATTEMPTS = 8;

export type CommitRetry = {
  /** Sends the commit of `next` for this partition. */
  send(): Promise<unknown>;
  /** False once a later commit of the partition was asked for, or the partition is not ours. */
  current(): boolean;
  sleep(ms: number): Promise<unknown>;
  /** How many times it is sent at most (each send is itself retried by kafkajs). */
  attempts?: number;
};

/** Commits, trying again (at most `attempts` times) while the refusal is not a rebalance. */
export async function commitRetrying({
  send,
  current,
  sleep,
  attempts = COMMIT_ATTEMPTS,
}: CommitRetry): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await send();
      return;
    } catch (error) {
      if (attempt >= attempts || rebalancing(error)) throw error;
      await sleep(backoffMs(attempt, { baseMs: 100, maxMs: 2_000 }));
      if (!current()) throw error;
    }
  }
}

/**
 * Whether a refusal is the group's rebalance. kafkajs's consumer.commitOffsets never throws the
 * broker's error itself: its retrier wraps it (KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded)
 * with the protocol error as the `cause`.
 */
function rebalancing(error: unknown): boolean {
  for (let e = error as { type?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.type && REBALANCING.has(e.type)) return true;
    e = e.cause as typeof e;
  }
  return false;
}

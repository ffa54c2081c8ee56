import { setTimeout as pause } from "node:timers/promises";
import { backoffMs } from "../poll.ts";
import { someCause } from "./kafka-errors.ts";

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
  /** Waits between tries (tests pass their own). */
  sleep?(ms: number): Promise<unknown>;
  /** How many times it is sent at most (each send is itself retried by kafkajs). */
  attempts?: number;
};

/** Commits, trying again (at most `attempts` times) while the refusal is not a rebalance. */
export async function commitRetrying({
  send,
  current,
  sleep = (ms) => pause(ms),
  attempts = COMMIT_ATTEMPTS,
}: CommitRetry): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await send();
      return;
    } catch (error) {
      // kafkajs wraps the broker's refusal: its causes are asked (kafka-errors.ts).
      if (attempt >= attempts || someCause(error, (e) => REBALANCING.has(e.type as string))) throw error;
      await sleep(backoffMs(attempt, { baseMs: 100, maxMs: 2_000 }));
      if (!current()) throw error;
    }
  }
}

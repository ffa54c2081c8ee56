import type { KafkaMessage } from "kafkajs";
import { SentinelError } from "../errors.ts";
import { backoffMs } from "../poll.ts";

/*
 * The retry/commit loop of one batch (law 2): the batch is cut into chunks; each chunk is handled
 * (scored, stored, published), retried with backoff while it fails, and only then is its offset
 * resolved and committed. The commit is sent, not awaited: the next chunk (and kafkajs's next fetch,
 * which waits for every partition's batch) need not wait a broker round trip for it — the offset
 * follows work that is already durable, and a commit that fails only means a redelivery, which
 * republishes the stored decisions (measured: sync p50 at 1,000 tx/s from ~50 to ~28 ms). A chunk is abandoned uncommitted as soon as the partition is not ours to
 * work on (stopping, the consumer not running, the batch stale after a rebalance), and a heartbeat
 * refused ends the batch (the group is rebalancing: kafkajs rejoins), so a member stuck in an outage
 * does not write on for partitions it lost; the outcome says where to resume.
 */

export type ChunkLoop = {
  chunkSize: number;
  handleChunk(messages: KafkaMessage[]): Promise<void>;
  /** True once this partition's work must stop (nothing more is committed). */
  abandoned(): boolean;
  /** True when the batch is stale (its partition moved): its new owner commits. */
  isStale(): boolean;
  resolveOffset(offset: string): void;
  /** Commits `next` (the offset after the chunk's last); a failure only means a redelivery. Not awaited. */
  commit(next: string): Promise<void>;
  heartbeat(): Promise<void>;
  sleep(ms: number): Promise<void>;
  onRetry?(event: { offset: string; attempt: number; code: string; error: Error; backoffMs: number }): void;
  onCommitted?(last: string): void;
  onCommitFailed?(last: string, error: Error): void;
  onHeartbeatRefused?(error: Error): void;
};

/**
 * How a batch ended: done, or left at `resumeAt` (the first offset not durable) for a refetch —
 * null when the partition is not this loop's to resume (stopping, stale).
 */
export type BatchOutcome = { done: true } | { done: false; resumeAt: string | null };

/*
 * The longest wait between two tries of a failing chunk. An outage ends between two tries, so this
 * is what the pipeline can lose after it: at 5 s, commits resumed 2.3–4.7 s after a 10 s
 * PostgreSQL cut ended (three-broker chaos runs, issue 22). One try a second per chunk in flight
 * costs nothing worth saving during an outage.
 */
const RETRY_MAX_MS = 1_000;

const DONE: BatchOutcome = { done: true };
const LEFT: BatchOutcome = { done: false, resumeAt: null };

/** Handles the batch's messages chunk by chunk. Never throws. */
export async function processInChunks(
  messages: readonly KafkaMessage[],
  loop: ChunkLoop,
): Promise<BatchOutcome> {
  for (let i = 0; i < messages.length; i += loop.chunkSize) {
    const chunk = messages.slice(i, i + loop.chunkSize);
    for (let attempt = 1; ; attempt++) {
      if (loop.abandoned()) return LEFT; // nothing of this chunk is committed
      try {
        await loop.handleChunk(chunk);
        break;
      } catch (error) {
        const wait = backoffMs(attempt, { maxMs: RETRY_MAX_MS });
        loop.onRetry?.({
          offset: chunk[0]!.offset,
          attempt,
          code: error instanceof SentinelError ? error.code : "internal",
          error: error as Error,
          backoffMs: wait,
        });
        try {
          await loop.heartbeat();
        } catch (heartbeatError) {
          loop.onHeartbeatRefused?.(heartbeatError as Error);
          return { done: false, resumeAt: chunk[0]!.offset };
        }
        await loop.sleep(wait);
      }
    }
    const last = chunk[chunk.length - 1]!.offset;
    if (loop.isStale()) return LEFT;
    loop.resolveOffset(last);
    const next = String(BigInt(last) + 1n);
    void loop.commit(next).then(
      () => loop.onCommitted?.(last),
      (error: unknown) => loop.onCommitFailed?.(last, error as Error),
    );
    try {
      await loop.heartbeat();
    } catch (heartbeatError) {
      loop.onHeartbeatRefused?.(heartbeatError as Error);
      return i + loop.chunkSize < messages.length ? { done: false, resumeAt: next } : DONE;
    }
  }
  return DONE;
}

import type { Batch } from "kafkajs";
import { maskPans } from "../domain/pan.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import type { Chunk, ChunkResult, DeadLetter } from "../scoring/round.ts";
import { epochMs, type PhaseTiming } from "../scoring/score-round.ts";
import { contextFrom, recordPhases } from "../tracing.ts";
import type { ChunkLoop } from "./chunk-loop.ts";

/* What the scorer (scorer.ts) reports of its chunks and rounds: metrics, logs and trace spans. */

/** The chunk loop's events, in metrics and logs. */
export function chunkLoopEvents(
  batch: Pick<Batch, "topic" | "partition" | "highWatermark">,
  logger: Logger,
  metrics: Metrics,
): Pick<ChunkLoop, "onRetry" | "onHeartbeatRefused" | "onCommitFailed" | "onCommitted"> {
  const { topic, partition } = batch;
  return {
    onRetry: ({ offset, attempt, code, error, backoffMs }) => {
      metrics.consumer.retries.inc({ code });
      logger.warn(
        { partition, offset, attempt, code, err: error.message, backoffMs },
        "chunk failed; retrying",
      );
    },
    onHeartbeatRefused: (error) =>
      logger.warn(
        { partition, err: error.message },
        "heartbeat refused while retrying: leaving the chunk to the group",
      ),
    // The chunk is durable; an offset left uncommitted (tried again: commit-retry.ts) means a
    // redelivery after the next rejoin, which republishes.
    onCommitFailed: (last, error) =>
      logger.warn({ partition, offset: last, err: error.message }, "offset commit failed"),
    onCommitted: (last) =>
      metrics.consumer.lag.set(
        { topic, partition: String(partition) },
        Math.max(0, Number(batch.highWatermark) - Number(last) - 1),
      ),
  };
}

/** Each traced transaction of a round (a `traceparent` header) gets its round's phases as spans. */
export function traceRound(
  chunks: readonly Chunk[],
  startMs: number,
  timings: PhaseTiming[],
  publishStartMs: number,
) {
  const endMs = epochMs();
  const phases = [...timings, { name: "publish", startMs: publishStartMs, endMs }];
  for (const { partition, messages } of chunks) {
    for (const m of messages) {
      const parent = contextFrom(m.headers);
      if (!parent) continue;
      recordPhases("score transaction", parent, startMs, phases, endMs, {
        "messaging.system": "kafka",
        "messaging.kafka.partition": partition,
        "messaging.kafka.offset": m.offset,
      });
    }
  }
}

/** A handled chunk's decisions, dead letters, size and duration, in metrics and logs. */
export function observeChunk(
  chunk: { partition: number; size: number; started: bigint; result: ChunkResult; refused: DeadLetter[] },
  logger: Logger,
  metrics: Metrics,
): void {
  for (const { decision, replayed } of chunk.result.decisions) {
    metrics.consumer.decisions.inc({ decision: decision.decision, replayed: String(replayed) });
  }
  for (const d of [...chunk.result.deadLetters, ...chunk.refused]) {
    metrics.consumer.deadLetters.inc({ reason: d.reason });
    logger.warn(
      // A detail may quote the message (a key_mismatch names the Kafka key): masked like the letter.
      { partition: chunk.partition, offset: d.message.offset, reason: d.reason, detail: maskPans(d.detail) },
      "dead-lettered",
    );
  }
  metrics.consumer.batchSize.observe(chunk.size);
  metrics.consumer.batchDuration.observe(Number(process.hrtime.bigint() - chunk.started) / 1e9);
}

import type { IHeaders, Kafka, KafkaMessage, Producer } from "kafkajs";
import { SentinelError } from "../errors.ts";
import { type Position, readRanges, resolveRanges } from "../kafka/range-reader.ts";
import type { Logger } from "../logger.ts";
import type { LetterSource, RedriveStore } from "../store/redrive-store.ts";
import { sourceKey } from "./scorer.ts";

/*
 * `sentinel dlq list` and `sentinel dlq redrive`. A dead letter keeps the original key and value
 * and says in headers why and where it failed. Redrive publishes the original key and value to
 * `transactions` again (once the cause is fixed) and records each moved letter in `dlq_redrives`
 * under the place its message was read, so a second redrive skips it. Publish first, record second:
 * a crash in between publishes a letter twice on the next run, which the pipeline absorbs (one row
 * per transaction_id, law 2); the other order could lose it.
 */

export type DeadLetterRecord = {
  dlqPartition: number;
  dlqOffset: string;
  /** When it was dead-lettered (the DLQ message's timestamp), ms. */
  timestampMs: number;
  reason: string;
  error: string;
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: string;
  key: Buffer | null;
  value: Buffer | null;
};

export type DeadLetterFilter = { since?: Position; reasons?: readonly string[] };

function header(headers: IHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v[0] : v)?.toString("utf8");
}

function toRecord(dlqTopic: string, partition: number, m: KafkaMessage): DeadLetterRecord {
  // A letter written by hand without our headers is identified by its own place on the DLQ.
  const sourceTopic = header(m.headers, "x-source-topic");
  const sourcePartition = Number(header(m.headers, "x-source-partition"));
  const sourceOffset = header(m.headers, "x-source-offset");
  const known = sourceTopic !== undefined && Number.isInteger(sourcePartition) && sourceOffset !== undefined;
  return {
    dlqPartition: partition,
    dlqOffset: m.offset,
    timestampMs: Number(m.timestamp),
    reason: header(m.headers, "x-error-reason") ?? "unknown",
    error: header(m.headers, "x-error") ?? "",
    sourceTopic: known ? sourceTopic : dlqTopic,
    sourcePartition: known ? sourcePartition : partition,
    sourceOffset: known ? sourceOffset : m.offset,
    key: m.key,
    value: m.value,
  };
}

/** Dead letters on `dlqTopic` now, oldest first per partition, filtered by time and reason. */
export async function readDeadLetters(
  kafka: Kafka,
  dlqTopic: string,
  filter: DeadLetterFilter = {},
): Promise<DeadLetterRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ranges = await resolveRanges(admin, dlqTopic, { from: filter.since ?? { kind: "earliest" } }).finally(
    () => admin.disconnect(),
  );
  const out: DeadLetterRecord[] = [];
  await readRanges(kafka, dlqTopic, ranges, {
    groupPrefix: "sentinel-dlq",
    onMessages: async (partition, messages) => {
      for (const m of messages) out.push(toRecord(dlqTopic, partition, m));
    },
  });
  const reasons = filter.reasons ? new Set(filter.reasons) : undefined;
  return out
    .filter((r) => !reasons || reasons.has(r.reason))
    .sort((a, b) => a.timestampMs - b.timestampMs || a.dlqPartition - b.dlqPartition);
}

/** A letter's source as `sourceKey` writes it: what replay and redrive dedupe on. */
export const keyOf = (r: DeadLetterRecord) => sourceKey(r.sourceTopic, r.sourcePartition, r.sourceOffset);

/** The sources of every letter on the DLQ (replay does not dead-letter those again). */
export async function deadLetteredSources(kafka: Kafka, dlqTopic: string): Promise<Set<string>> {
  return new Set((await readDeadLetters(kafka, dlqTopic)).map(keyOf));
}

const sourceOf = (l: DeadLetterRecord): LetterSource => ({
  topic: l.sourceTopic,
  partition: l.sourcePartition,
  offset: l.sourceOffset,
});

/** Which of these letters a redrive already moved (keys as `keyOf`). */
export async function redrivenSources(
  redrives: Pick<RedriveStore, "redriven">,
  letters: readonly DeadLetterRecord[],
): Promise<Set<string>> {
  const moved = await redrives.redriven(letters.map(sourceOf));
  return new Set(moved.map((m) => sourceKey(m.topic, m.partition, m.offset)));
}

export type RedriveSummary = {
  dryRun: boolean;
  /** Letters matching the filter. */
  matched: number;
  /** Of those, moved by an earlier redrive (skipped). */
  alreadyRedriven: number;
  /** Moved now (would be, dry run). */
  moved: number;
  byReason: Record<string, number>;
};

const BATCH = 500;

/**
 * Re-publishes the matching letters not redriven before to `transactionsTopic` (original key and
 * value; headers say where it came from) and records them. One redrive runs at a time.
 * @throws SentinelError unavailable when another redrive holds the lock.
 */
export async function redrive(options: {
  kafka: Kafka;
  producer: Producer;
  redrives: RedriveStore;
  topics: { transactions: string; dlq: string };
  filter: DeadLetterFilter;
  dryRun: boolean;
  logger: Logger;
}): Promise<RedriveSummary> {
  const { redrives, producer, topics, dryRun } = options;
  return redrives.exclusively(async () => {
    const letters = await readDeadLetters(options.kafka, topics.dlq, options.filter);
    const done = await redrivenSources(redrives, letters);
    const todo: DeadLetterRecord[] = [];
    const picked = new Set<string>();
    for (const l of letters) {
      const k = keyOf(l);
      if (done.has(k) || picked.has(k)) continue; // the same failure lettered twice moves once
      picked.add(k);
      todo.push(l);
    }
    const byReason: Record<string, number> = {};
    for (const l of todo) byReason[l.reason] = (byReason[l.reason] ?? 0) + 1;
    const summary: RedriveSummary = {
      dryRun,
      matched: letters.length,
      alreadyRedriven: letters.filter((l) => done.has(keyOf(l))).length,
      moved: todo.length,
      byReason,
    };
    if (dryRun) return summary;
    for (let i = 0; i < todo.length; i += BATCH) {
      const batch = todo.slice(i, i + BATCH);
      try {
        await producer.send({
          topic: topics.transactions,
          acks: -1,
          messages: batch.map((l) => ({
            key: l.key,
            value: l.value,
            headers: {
              "x-redriven-from": `${topics.dlq}/${l.dlqPartition}/${l.dlqOffset}`,
              "x-original-source": keyOf(l),
            },
          })),
        });
      } catch (error) {
        throw new SentinelError("broker_unavailable", "could not publish to transactions", {
          cause: error,
        });
      }
      await redrives.record(
        batch.map((l) => ({
          ...sourceOf(l),
          dlqPartition: l.dlqPartition,
          dlqOffset: l.dlqOffset,
          reason: l.reason,
        })),
      );
      options.logger.info({ moved: i + batch.length, of: todo.length }, "redrive progress");
    }
    return summary;
  });
}

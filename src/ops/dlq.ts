import type { Kafka, Producer } from "kafkajs";
import { SentinelError } from "../errors.ts";
import { withAdmin } from "../kafka/admin.ts";
import {
  type DeadLetterRecord,
  DLQ_HEADERS,
  decodeDeadLetter,
  keyOf,
  sourceKey,
} from "../kafka/dead-letter-codec.ts";
import { type Position, readRanges, resolveRanges } from "../kafka/range-reader.ts";
import type { Logger } from "../logger.ts";
import type { LetterSource, RedriveStore } from "../store/redrive-store.ts";

export type { DeadLetterRecord };
export { keyOf };

/*
 * `sentinel dlq list` and `sentinel dlq redrive`. A dead letter keeps the original key and value
 * and says in headers why and where it failed. Redrive publishes the original key and value to
 * `transactions` again (once the cause is fixed) and records each moved letter in `dlq_redrives`
 * under the place its message was read, so a second redrive skips it. Publish first, record second:
 * a crash in between publishes a letter twice on the next run, which the pipeline absorbs (one row
 * per transaction_id, law 2); the other order could lose it.
 */

export type DeadLetterFilter = { since?: Position; reasons?: readonly string[] };

/** Letters are handed over in pieces of this many: memory stays bounded however long the DLQ. */
const PIECE = 1_000;

/**
 * Streams the dead letters on `dlqTopic` now (those written afterwards are not read), in offset
 * order per partition, filtered by time and reason, to `onLetters` in pieces: a DLQ of millions is
 * read in bounded memory.
 */
export async function forEachDeadLetter(
  kafka: Kafka,
  dlqTopic: string,
  filter: DeadLetterFilter,
  onLetters: (letters: DeadLetterRecord[]) => Promise<void>,
): Promise<void> {
  const ranges = await withAdmin(kafka, (admin) =>
    resolveRanges(admin, dlqTopic, { from: filter.since ?? { kind: "earliest" } }),
  );
  const reasons = filter.reasons ? new Set(filter.reasons) : undefined;
  await readRanges(kafka, dlqTopic, ranges, {
    groupPrefix: "sentinel-dlq",
    chunkSize: PIECE,
    onMessages: async (partition, messages) => {
      const letters = messages
        .map((m) => decodeDeadLetter(dlqTopic, partition, m))
        .filter((r) => !reasons || reasons.has(r.reason));
      if (letters.length > 0) await onLetters(letters);
    },
  });
}

/**
 * The sources of the letters on the DLQ that `wanted` keeps (replay asks for those of its range
 * only, so the set is bounded by the poison in that range, not by the DLQ's length).
 */
export async function deadLetteredSources(
  kafka: Kafka,
  dlqTopic: string,
  wanted: (letter: DeadLetterRecord) => boolean = () => true,
): Promise<Set<string>> {
  const keys = new Set<string>();
  await forEachDeadLetter(kafka, dlqTopic, {}, async (letters) => {
    for (const l of letters) if (wanted(l)) keys.add(keyOf(l));
  });
  return keys;
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
  /** Not moved: card numbers masked or value cut, so the letter no longer holds the original. */
  notOriginal: number;
  /** Not moved: read from another topic than the transactions one (a webhook source topic). */
  otherSource: number;
  byReason: Record<string, number>;
};

/**
 * Re-publishes the matching letters not redriven before to `transactionsTopic` (original key and
 * value; headers say where it came from) and records them, streaming: one piece of the DLQ at a
 * time, so memory stays bounded however many letters there are. A letter lettered twice moves
 * once (the ledger, written after each piece, is asked for each piece). Letters whose card
 * numbers were masked, or whose value was cut to fit, are not moved: they are not the original.
 * One redrive runs at a time.
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
    const summary: RedriveSummary = {
      dryRun,
      matched: 0,
      alreadyRedriven: 0,
      moved: 0,
      notOriginal: 0,
      otherSource: 0,
      byReason: {},
    };
    await forEachDeadLetter(options.kafka, topics.dlq, options.filter, async (letters) => {
      summary.matched += letters.length;
      const done = await redrivenSources(redrives, letters);
      const todo: DeadLetterRecord[] = [];
      const picked = new Set<string>();
      for (const l of letters) {
        const k = keyOf(l);
        if (done.has(k)) {
          summary.alreadyRedriven++;
          continue;
        }
        // The same failure lettered twice moves once (within a piece here; across pieces the ledger
        // says so — a dry run records nothing, so it may count such a letter twice).
        if (picked.has(k)) continue;
        if (l.panMasked || l.truncated) {
          summary.notOriginal++;
          continue;
        }
        // Only transactions go back to the transactions topic: a webhook topic's invalid event
        // (issue 35) stays where it is.
        if (l.sourceTopic !== topics.transactions) {
          summary.otherSource++;
          continue;
        }
        picked.add(k);
        todo.push(l);
        summary.byReason[l.reason] = (summary.byReason[l.reason] ?? 0) + 1;
      }
      summary.moved += todo.length;
      if (dryRun || todo.length === 0) return;
      try {
        await producer.send({
          topic: topics.transactions,
          acks: -1,
          messages: todo.map((l) => ({
            key: l.key,
            value: l.value,
            headers: {
              [DLQ_HEADERS.redrivenFrom]: `${topics.dlq}/${l.dlqPartition}/${l.dlqOffset}`,
              [DLQ_HEADERS.originalSource]: keyOf(l),
            },
          })),
        });
      } catch (error) {
        throw new SentinelError("broker_unavailable", "could not publish to transactions", {
          cause: error,
        });
      }
      await redrives.record(
        todo.map((l) => ({
          ...sourceOf(l),
          dlqPartition: l.dlqPartition,
          dlqOffset: l.dlqOffset,
          reason: l.reason,
        })),
      );
      options.logger.info({ moved: summary.moved, read: summary.matched }, "redrive progress");
    });
    return summary;
  });
}

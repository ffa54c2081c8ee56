import { setTimeout as sleep } from "node:timers/promises";
import type { Kafka, KafkaMessage, Producer } from "kafkajs";
import { scoreHalving } from "../consumer/halving.ts";
import type { Decision, DecisionOutcome } from "../domain/decision.ts";
import { isRetryable } from "../errors.ts";
import { sourceKey } from "../kafka/dead-letter-codec.ts";
import { type PartitionRange, readRanges } from "../kafka/range-reader.ts";
import type { Logger } from "../logger.ts";
import { backoffMs } from "../poll.ts";
import { createRoundPublisher } from "../scoring/publish-round.ts";
import type { ChunkResult } from "../scoring/round.ts";
import { type ScoringDeps, scoreRound } from "../scoring/score-round.ts";

/*
 * `sentinel replay`: re-reads a range of `transactions` through the scoring pipeline with a group
 * of its own while the live group keeps running. Law 5: a transaction already stored keeps its row
 * and its live decision; only what was never stored is stored (and its decision published), and a
 * message already in the DLQ is not dead-lettered twice. `redecide` also scores the stored ones
 * with today's rules and keeps those decisions beside the live ones under their rules_version.
 */

export type ReplayOptions = {
  kafka: Kafka;
  producer: Producer;
  topics: { transactions: string; decisions: string; dlq: string };
  ranges: readonly PartitionRange[];
  scoring: ScoringDeps;
  redecide: boolean;
  dryRun: boolean;
  /** The rules are a candidate (--rules): nothing is stored as live or published (implies redecide). */
  backtest?: boolean;
  chunkSize: number;
  /** The largest produce request (bytes): decisions and letters are split to fit. */
  maxRequestBytes: number;
  /** Dead letters already on the DLQ, by source (see sourceKey): not published again. */
  alreadyDeadLettered: ReadonlySet<string>;
  onProgress?(done: number, total: number): void;
  /** With `redecide`: each stored transaction's live decision and the one the replay made, once. */
  onRedecided?(before: Decision, after: Decision): void;
  logger: Logger;
};

export type Move = { from: DecisionOutcome; to: DecisionOutcome; count: number; examples: string[] };

export type ReplaySummary = {
  rulesVersion: string;
  dryRun: boolean;
  /** Messages in the range. */
  read: number;
  /** Transactions stored before the replay: their rows and live decisions unchanged. */
  alreadyStored: number;
  /** Transactions the replay stored (or would store, dry run), with their decisions published. */
  newlyStored: number;
  /** A backtest's transactions the live group has not stored yet: left to it, not stored here. */
  notStored: number;
  /** Poison messages dead-lettered by this replay (would be, dry run). */
  deadLettered: number;
  /** Poison messages whose dead letter was already on the DLQ. */
  alreadyDeadLettered: number;
  /** Messages repeating a transaction_id seen earlier in the range. */
  duplicates: number;
  /** With redecide: stored transactions scored again, and how their outcome moved. */
  redecided?: { scored: number; unchanged: number; moves: Move[] };
};

const EXAMPLES_PER_MOVE = 5;
const MAX_TRIES = 8;

function emptySummary(rulesVersion: string, dryRun: boolean): ReplaySummary {
  return {
    rulesVersion,
    dryRun,
    read: 0,
    alreadyStored: 0,
    newlyStored: 0,
    notStored: 0,
    deadLettered: 0,
    alreadyDeadLettered: 0,
    duplicates: 0,
  };
}

/** How re-decided transactions moved between outcomes, with a few examples of each move. */
function createMoveTally() {
  const moves = new Map<string, Move>();
  let scored = 0;
  let unchanged = 0;
  return {
    add(before: Decision, after: Decision): void {
      scored++;
      if (before.decision === after.decision) {
        unchanged++;
        return;
      }
      const key = `${before.decision}→${after.decision}`;
      let move = moves.get(key);
      if (!move) {
        move = { from: before.decision, to: after.decision, count: 0, examples: [] };
        moves.set(key, move);
      }
      move.count++;
      if (move.examples.length < EXAMPLES_PER_MOVE) move.examples.push(after.transaction_id);
    },
    summary: () => ({ scored, unchanged, moves: [...moves.values()].sort((a, b) => b.count - a.count) }),
  };
}

export async function replay(options: ReplayOptions): Promise<ReplaySummary> {
  const { topics, ranges, dryRun, logger } = options;
  const backtest = options.backtest ?? false;
  const redecide = options.redecide || backtest;
  const total = ranges.reduce((n, r) => n + Number(r.end - r.start), 0);
  const summary = emptySummary(options.scoring.rules.version, dryRun);
  const seen = new Set<string>();
  const moves = createMoveTally();
  const lettered = new Set(options.alreadyDeadLettered);
  const redecidedIds = new Set<string>();

  const publishRound = createRoundPublisher({
    producer: options.producer,
    topics,
    maxRequestBytes: options.maxRequestBytes,
  });

  /** One chunk: scored (a message PostgreSQL refuses is narrowed down and dead-lettered, as live). */
  const attempt = async (partition: number, messages: KafkaMessage[]) => {
    const { result, refused } = await scoreHalving(async (part) => {
      const [r] = await scoreRound(options.scoring, [{ partition, messages: part }], {
        store: !dryRun,
        redecide,
        backtest,
        storedFirst: !redecide,
      });
      return r!;
    }, messages);
    result.deadLetters.push(...refused);
    result.deadLetters.sort((a, b) => Number(a.message.offset) - Number(b.message.offset));
    const letters = result.deadLetters.filter(
      (d) => !lettered.has(sourceKey(topics.transactions, partition, d.message.offset)),
    );
    const fresh = result.decisions.filter((d) => !d.replayed && !seen.has(d.decision.transaction_id));
    // A backtest publishes nothing: its decisions are not of record, its letters the live group's.
    if (!dryRun && !backtest) {
      await publishRound({
        decisions: fresh.map((d) => d.decision),
        deadLetters: letters.map((letter) => ({ partition, letter })),
      });
    }
    return result;
  };

  /** Counts a chunk once it is durable (a retried chunk is counted once). */
  const count = (partition: number, messages: KafkaMessage[], result: ChunkResult) => {
    for (const { decision, replayed } of result.decisions) {
      const id = decision.transaction_id;
      if (seen.has(id)) {
        summary.duplicates++;
        continue;
      }
      seen.add(id);
      if (replayed) summary.alreadyStored++;
      else if (backtest) summary.notStored++;
      else summary.newlyStored++;
    }
    summary.duplicates += messages.length - result.decisions.length - result.deadLetters.length;
    for (const { before, after } of result.redecided) {
      if (redecidedIds.has(after.transaction_id)) continue;
      redecidedIds.add(after.transaction_id);
      options.onRedecided?.(before, after);
      moves.add(before, after);
    }
    for (const d of result.deadLetters) {
      const key = sourceKey(topics.transactions, partition, d.message.offset);
      if (lettered.has(key)) summary.alreadyDeadLettered++;
      else {
        lettered.add(key);
        summary.deadLettered++;
      }
    }
    summary.read += messages.length;
    options.onProgress?.(summary.read, total);
  };

  // An outage (database, Redis, broker) is waited out a bounded number of times: every write is
  // idempotent, so a chunk tried again changes nothing it already did.
  const onMessages = async (partition: number, messages: KafkaMessage[]) => {
    for (let tries = 1; ; tries++) {
      try {
        count(partition, messages, await attempt(partition, messages));
        return;
      } catch (error) {
        if (!isRetryable(error) || tries >= MAX_TRIES) throw error;
        const wait = backoffMs(tries, { baseMs: 200 });
        logger.warn(
          { partition, tries, backoffMs: wait, err: (error as Error).message },
          "replay chunk failed; retrying",
        );
        await sleep(wait);
      }
    }
  };

  await readRanges(options.kafka, topics.transactions, ranges, {
    onMessages,
    chunkSize: options.chunkSize,
    groupPrefix: "sentinel-replay",
    logger,
  });
  if (redecide) summary.redecided = moves.summary();
  logger.info({ summary }, "replay finished");
  return summary;
}

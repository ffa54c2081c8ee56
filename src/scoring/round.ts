import type { KafkaMessage } from "kafkajs";
import type { Decision } from "../domain/decision.ts";
import type { DeadLetter } from "../kafka/dead-letter-codec.ts";

/*
 * The unit of scoring: a round is the chunks that several partitions have ready at the same moment
 * (round-combiner.ts), scored together (score-round.ts) and published together (publish-round.ts).
 */

export type { DeadLetter };

/** Messages of one partition, in offset order. */
export type Chunk = { partition: number; messages: readonly KafkaMessage[] };

export type ChunkResult = {
  /** One per distinct transaction in the chunk, new or already stored, in topic order. */
  decisions: Array<{ decision: Decision; replayed: boolean }>;
  deadLetters: DeadLetter[];
  /** With `redecide`: each already stored transaction's live decision and the current rules' one. */
  redecided: Array<{ before: Decision; after: Decision }>;
};

/**
 * How a round is scored and persisted. The live consumer stores new transactions (and a shadow
 * set's decisions beside them) and republishes stored ones. `redecide` (replay --redecide) also
 * scores the stored ones with the current rules and stores those decisions beside the live ones
 * (live = false). `store: false` (--dry-run) writes nothing. persist-round.ts has a step list per mode.
 */
export type ScoreMode = {
  store: boolean;
  redecide: boolean;
  /**
   * A backtest (replay --rules): the rules are a candidate nobody activated, so nothing it decides
   * is stored as live or published — only its decisions of stored transactions, beside (issue 20).
   */
  backtest?: boolean;
  /** Look up stored decisions before loading profiles and history (replays: mostly stored). */
  storedFirst?: boolean;
};
export const LIVE: ScoreMode = { store: true, redecide: false };

export const emptyResult = (): ChunkResult => ({ decisions: [], deadLetters: [], redecided: [] });

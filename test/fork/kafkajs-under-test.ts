import { createRequire } from "node:module";
import { it } from "vitest";

/*
 * The tests of our kafkajs fork (patches/, docs/kafka-client.md) run twice: against the fork
 * (`unit` project) and against pristine kafkajs 2.2.4 (`kafkajs-pristine` project, installed as the
 * npm alias `kafkajs-pristine`, which patch-package leaves alone). A `forkTest` proves one change:
 * it must pass on the fork and fail on pristine kafkajs — in the pristine project it runs as
 * `it.fails`, so that project is green exactly when each of those tests fails there. A plain `it`
 * here holds on both (what a change must leave alone).
 */

export const PRISTINE = process.env.KAFKAJS_UNDER_TEST === "pristine";
const require = createRequire(import.meta.url);
const root = PRISTINE ? "kafkajs-pristine" : "kafkajs";

/** A module of the kafkajs under test, by its path inside the package (`src/…`). */
export function kafkajs<T>(path: string): T {
  return require(`${root}/${path}`) as T;
}

/** A test that passes only with the fork's change (and so fails on pristine kafkajs). */
export const forkTest = PRISTINE ? it.fails : it;

/** kafkajs's logger interface, silent. */
export const silentLogger = {
  namespace: () => silentLogger,
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** kafkajs's `src/protocol/requests/produce/v3/request.js`. */
export type ProduceRequest = (args: Record<string, unknown>) => { encode(): Promise<{ buffer: Buffer }> };

/** kafkajs's `src/producer/groupMessagesPerPartition.js`, for messages of shape `M`. */
export type GroupMessagesPerPartition<M> = (args: {
  topic: string;
  partitionMetadata: unknown[];
  messages: M[];
  partitioner: (args: { message: M }) => number;
}) => Record<string, M[]>;

export type KafkaJSErrors = {
  KafkaJSConnectionError: new (message: string) => Error;
  KafkaJSNonRetriableError: new (e: Error, options: { cause: Error }) => Error;
  isRebalancing(e: unknown): boolean;
};

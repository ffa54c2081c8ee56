import type { Consumer, ConsumerConfig, Kafka } from "kafkajs";
import type { Logger } from "../logger.ts";
import { createCommitCoalescer } from "./commit-coalescer.ts";
import { commitRetrying } from "./commit-retry.ts";

/*
 * Every consumer group member we run — the scorer, the webhook intake, the decision listener, the
 * range reader of replays — is built here, so they share one session/heartbeat rule, one retry
 * budget, one crash handling and one commit: each caller says only what differs (issue 33).
 */

/** kafkajs's retries of one request: 10 tries, 0.3 s doubling to 5 s (~25 s in all). */
export const CONSUMER_RETRY = { retries: 10, initialRetryTime: 300, maxRetryTime: 5_000 } as const;

export type GroupConsumerOptions = {
  groupId: string;
  /** What the logs call it ("consumer", "intake", "decision listener"…). */
  name: string;
  logger: Logger;
  /** A member silent this long is presumed dead and its partitions move (default 30 s). */
  sessionTimeoutMs?: number;
  /** This process's static member id in the group (KIP-345; the fork's `groupInstanceId`). */
  instanceId?: string;
  /**
   * How long a fetch waits at the broker for `minBytes` (default 1: it answers as soon as anything
   * is there, and waits this long only when idle).
   */
  maxWaitTimeInMs: number;
  minBytes?: number;
  /**
   * After a fetch from a broker that returned no records, the next asks for one byte and waits up
   * to this long (the fork's `idleMaxWaitTimeInMs`): an idle member with `minBytes` above 1 no
   * longer asks every `maxWaitTimeInMs`, and the first records after a quiet spell come at once.
   * 0 or unset: every fetch asks for `minBytes`.
   */
  idleMaxWaitTimeInMs?: number;
  /** Commits gathered into one request per this many ms (commit-coalescer.ts); 0: each sent alone. */
  commitIntervalMs?: number;
  maxBytes?: number;
  maxBytesPerPartition?: number;
  /**
   * kafkajs gave up on the consumer: it will not restart it, so it reads nothing any more. The
   * caller decides (exit for a supervisor to restart the process; run it again). A crash kafkajs
   * restarts by itself is logged as a warning and given to `onRestart`.
   */
  onFatal(error: Error): void;
  onRestart?(error: Error): void;
};

export type GroupConsumer = {
  readonly consumer: Consumer;
  /**
   * Commits `offset` (the next to read) for a partition; a refused commit is sent again, with
   * backoff, while `current()` holds and the refusal is not a rebalance (commit-retry.ts).
   * @throws the last refusal when it is a rebalance, `current()` turned false, or tries ran out.
   */
  commit(args: {
    topic: string;
    partition: number;
    offset: string;
    current: () => boolean;
    attempts?: number;
  }): Promise<void>;
  /** Sends the commits gathered (commitIntervalMs) now and waits for them. */
  flushCommits(): Promise<void>;
};

/**
 * The wait of a long-running reader that fetches with `minBytes` 1 (the decision listener, the
 * webhook intake): the broker answers as soon as anything is there, so the wait bounds only an
 * empty fetch — it is what the reader spends idle (10 empty fetches a second at 100 ms, 2 at 500).
 * A stop or a rebalance may wait out one.
 */
export const IDLE_READER_WAIT_MS = 500;

/** One consumer group member, configured the one way every caller shares. */
export function createGroupConsumer(kafka: Kafka, options: GroupConsumerOptions): GroupConsumer {
  const sessionTimeout = options.sessionTimeoutMs ?? 30_000;
  const config: ConsumerConfig = {
    groupId: options.groupId,
    sessionTimeout,
    // A third of the session is the Java client's rule of thumb; a fifth leaves room for a slow beat.
    heartbeatInterval: Math.max(1_000, Math.floor(sessionTimeout / 5)),
    maxWaitTimeInMs: options.maxWaitTimeInMs,
    retry: { ...CONSUMER_RETRY },
  };
  if (options.instanceId) config.groupInstanceId = options.instanceId;
  if (options.minBytes !== undefined) config.minBytes = options.minBytes;
  if (options.idleMaxWaitTimeInMs) config.idleMaxWaitTimeInMs = options.idleMaxWaitTimeInMs;
  if (options.maxBytes !== undefined) config.maxBytes = options.maxBytes;
  if (options.maxBytesPerPartition !== undefined) config.maxBytesPerPartition = options.maxBytesPerPartition;
  const consumer = kafka.consumer(config);

  const { logger, name } = options;
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    const { error, restart } = payload as { error: Error; restart: boolean };
    if (restart) {
      logger.warn({ err: error.message }, `${name} crashed; kafkajs restarts it`);
      options.onRestart?.(error);
    } else {
      options.onFatal(error); // the caller says what it does about it, in its own log line
    }
  });

  // The commits of a member that gathers them (the scorer): one request per interval.
  const coalescer = options.commitIntervalMs
    ? createCommitCoalescer({
        intervalMs: options.commitIntervalMs,
        send: async (current) => {
          let sent: ReturnType<typeof current> = [];
          await commitRetrying({
            send: () => {
              sent = current();
              return consumer.commitOffsets(
                sent.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
              );
            },
            current: () => current().length > 0,
          });
          return sent;
        },
      })
    : undefined;
  return {
    consumer,
    commit: ({ topic, partition, offset, current, attempts }) =>
      coalescer
        ? coalescer.commit({ topic, partition, offset, current })
        : commitRetrying({
            send: () => consumer.commitOffsets([{ topic, partition, offset }]),
            current,
            ...(attempts === undefined ? {} : { attempts }),
          }),
    flushCommits: async () => coalescer?.flush(),
  };
}

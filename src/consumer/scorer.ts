import { setTimeout as sleep } from "node:timers/promises";
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from "kafkajs";
import { createGroupConsumer, type GroupConsumer } from "../kafka/group-consumer.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { createRoundPublisher, roundOutput } from "../scoring/publish-round.ts";
import { type Chunk, type ChunkResult, LIVE } from "../scoring/round.ts";
import { epochMs, type ScoringDeps, scoreRound } from "../scoring/score-round.ts";
import { tracingEnabled } from "../tracing.ts";
import { type BatchOutcome, processInChunks } from "./chunk-loop.ts";
import { watchCommits } from "./commit-watchdog.ts";
import { scoreHalving } from "./halving.ts";
import { createPartitionPipelines, type PartitionPipelines } from "./partition-pipeline.ts";
import { createRoundCombiner } from "./round-combiner.ts";
import { chunkLoopEvents, observeChunk, traceRound } from "./scorer-events.ts";

export type ScorerOptions = {
  kafka: Kafka;
  /** Connected by the caller; used for decisions and dead letters (acks=all). */
  producer: Producer;
  topics: { transactions: string; decisions: string; dlq: string };
  groupId: string;
  partitionsConcurrency: number;
  chunkSize: number;
  /** A member silent this long is presumed dead and its partitions move (after a SIGKILL, say). */
  sessionTimeoutMs: number;
  /**
   * This process's static member id in the group (CONSUMER_INSTANCE_ID): a consumer restarted
   * within its session timeout takes its partitions back without a rebalance. Unset: dynamic.
   */
  instanceId?: string;
  /** Message payload fetched and not yet durable, at most (partition-pipeline.ts). */
  maxInFlightBytes: number;
  /** Rounds scored at once, at most (2: the next decodes and loads while one persists; round-combiner.ts). */
  roundsInFlight: number;
  /** While a round runs, the next starts only with this many messages waiting (a backlog). */
  overlapMinMessages: number;
  /** A round's messages, at most (whole chunks, at least one). */
  roundMaxMessages: number;
  /** The fetch's wait for bytes at the broker (default: answered at once, 50 ms when idle). */
  fetch?: { minBytes: number; maxWaitMs: number; idleWaitMs?: number };
  /** Commits gathered into one request per this many ms (default 100; commit-coalescer.ts). */
  commitIntervalMs?: number;
  fromBeginning?: boolean;
  /** The largest produce request to send (bytes); decisions and letters are split to fit. */
  maxRequestBytes: number;
  scoring: ScoringDeps;
  logger: Logger;
  metrics: Metrics;
  /** Called once when kafkajs crashes the consumer for good (it will not restart by itself). */
  onFatal?: (error: Error) => void;
};

export type Scorer = {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly consumer: Consumer;
  /** False once the consumer crashed for good: it consumes nothing any more. */
  readonly healthy: boolean;
};

/** The next fetch overlaps this round's persistence (partition-pipeline.ts); a rejoin resets it. */
function pipelinesFor(
  consumer: Consumer,
  processBatch: (payload: EachBatchPayload) => Promise<BatchOutcome>,
  stopping: () => boolean,
  {
    maxInFlightBytes,
    chunkSize,
    logger,
    metrics,
  }: Pick<ScorerOptions, "maxInFlightBytes" | "chunkSize" | "logger" | "metrics">,
): PartitionPipelines {
  const pipelines = createPartitionPipelines({
    maxInFlightBytes,
    maxMessages: chunkSize,
    process: async (payload) => {
      const outcome = await processBatch(payload);
      metrics.consumer.inFlight.set(pipelines.inFlightBytes);
      return outcome;
    },
    seek: (topic, partition, offset) => {
      if (!stopping()) consumer.seek({ topic, partition, offset });
    },
    onSeekFailed: (partition, error) =>
      logger.warn(
        { partition, err: error.message },
        "seek refused; the group's rejoin fetches from the committed offset",
      ),
    onDropped: ({ partition, batches, reason }) => {
      metrics.consumer.dropped.inc({ reason }, batches);
      logger.info({ partition, batches, reason }, "queued batches dropped; they are fetched again");
    },
  });
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    pipelines.reset();
    const partitions = Object.values(payload.memberAssignment).flat();
    logger.info(
      { memberId: payload.memberId, partitions, leader: payload.isLeader, durationMs: payload.duration },
      "joined the group",
    );
  });
  return pipelines;
}

/**
 * The scorer's commits (commit-retry.ts): a refused one is sent again while it is its partition's
 * latest — and only in the generation its batch was worked in. Each send asks kafkajs anew, which
 * sends it with the member's *current* generation, and the coordinator accepts a current member's
 * commit for any partition: a commit refused before a rejoin and sent again after it overwrote
 * the partition's new owner's later commit, and nothing moved it again once the load had ended
 * (four partitions left with lag in four of five chaos runs, 2026-12-05). The generation is the
 * pipelines' count of rejoins (partition-pipeline.ts).
 */
export function committer(group: GroupConsumer, stopping: () => boolean, generation: () => number) {
  const latest = new Map<number, string>();
  return (topic: string, partition: number, offset: string, isStale: () => boolean, workedIn: number) => {
    latest.set(partition, offset);
    const current = () =>
      !stopping() && !isStale() && generation() === workedIn && latest.get(partition) === offset;
    if (!current()) return Promise.reject(new Error("the group rejoined since: its new owner commits"));
    return group.commit({ topic, partition, offset, current });
  };
}

/** The scorer's group member: its session, fetch sizes and static id; a fatal crash marks it unhealthy. */
function scorerGroup(options: ScorerOptions, unhealthy: () => void): GroupConsumer {
  return createGroupConsumer(options.kafka, {
    groupId: options.groupId,
    name: "consumer",
    logger: options.logger,
    sessionTimeoutMs: options.sessionTimeoutMs,
    ...(options.instanceId ? { instanceId: options.instanceId } : {}),
    maxWaitTimeInMs: options.fetch?.maxWaitMs ?? 50,
    minBytes: options.fetch?.minBytes ?? 1,
    idleMaxWaitTimeInMs: options.fetch?.idleWaitMs, // 0 or unset: none (createGroupConsumer)
    commitIntervalMs: options.commitIntervalMs ?? 100,
    maxBytesPerPartition: 2 * 1024 * 1024,
    onFatal: (error) => {
      unhealthy();
      options.onFatal?.(error);
    },
  });
}

/*
 * The hot path, outside in: a batch is cut into chunks, each retried until durable and then
 * committed (chunk-loop.ts); a chunk joins the round of the chunks other partitions have ready at
 * the same moment (round-combiner.ts), scored and published together (score-round.ts,
 * publish-round.ts); a chunk PostgreSQL refuses is narrowed down to the refused messages
 * (halving.ts), dead-lettered as `store_rejected` once the rest is stored (law 4).
 */
function roundsFor(
  options: ScorerOptions,
  publishRound: ReturnType<typeof createRoundPublisher>,
  stage: (what: string) => void,
) {
  const { metrics } = options;
  return createRoundCombiner<Chunk, ChunkResult>({
    maxInFlight: options.roundsInFlight,
    sizeOf: (chunk) => chunk.messages.length,
    overlapAt: options.overlapMinMessages,
    maxRoundSize: options.roundMaxMessages,
    runRound: async (chunks) => {
      const timings = tracingEnabled() ? [] : undefined;
      const roundStart = epochMs();
      const round = `round ${chunks.map((c) => c.partition).join(",")}`;
      stage(`${round}: scoring`);
      const results = await scoreRound(options.scoring, chunks, LIVE, timings);
      stage(`${round}: publishing`);
      const started = performance.now();
      await publishRound(roundOutput(chunks, results));
      stage("idle");
      metrics.consumer.stage.observe({ stage: "publish" }, (performance.now() - started) / 1000);
      if (timings) traceRound(chunks, roundStart, timings, performance.timeOrigin + started);
      return results;
    },
  });
}

/**
 * The consumer group `sentinel-scorer`: each fetched batch is cut into chunks; a chunk is scored,
 * stored, its decisions and dead letters published, and only then is its offset committed (law 2).
 * Transient faults are retried with backoff, heartbeating meanwhile, until they pass or the
 * partition is taken away (then the chunk is abandoned uncommitted, for its new owner to redo).
 */
export function createScorer(options: ScorerOptions): Scorer {
  const { topics, logger, metrics } = options;
  let healthy = true;
  const group = scorerGroup(options, () => {
    healthy = false;
  });
  const { consumer } = group;
  const { producer, maxRequestBytes } = options;
  const publishRound = createRoundPublisher({ producer, topics, maxRequestBytes });
  const rounds = roundsFor(options, publishRound, (what) => watchdog.stage("round", what));

  async function handleChunk(partition: number, messages: KafkaMessage[]): Promise<void> {
    const started = process.hrtime.bigint();
    const { result, refused } = await scoreHalving(
      (part) => rounds.submit({ partition, messages: part }),
      messages,
    );
    if (refused.length > 0) {
      await publishRound({ decisions: [], deadLetters: refused.map((letter) => ({ partition, letter })) });
    }
    observeChunk({ partition, size: messages.length, started, result, refused }, logger, metrics);
  }

  /*
   * Shutdown: no new chunk starts once stop() is called, the chunks running finish (stored and
   * published) before the group is left — else a chunk stored but not published would wait for a
   * redelivery to be published. A chunk stuck retrying a fault is abandoned uncommitted.
   */
  let stopping = false;
  const commit = committer(
    group,
    () => stopping,
    () => pipelines.generation,
  ); // prettier-ignore
  const watchdog = watchCommits(
    options,
    group,
    () => stopping,
    (p) => pipelines.isIdle(p),
  );

  function processBatch(payload: EachBatchPayload) {
    const { batch, heartbeat, isRunning, isStale } = payload;
    const { partition, topic } = batch;
    const workedIn = pipelines.generation;
    return processInChunks(batch.messages, {
      chunkSize: options.chunkSize,
      handleChunk: async (chunk) => {
        watchdog.stage(`p${partition}`, `chunk ${chunk[0]!.offset}–${chunk.at(-1)!.offset}`);
        try {
          await handleChunk(partition, chunk);
        } finally {
          watchdog.stage(`p${partition}`, "idle");
        }
        watchdog.durable(partition, String(BigInt(chunk.at(-1)!.offset) + 1n));
      },
      abandoned: () => stopping || !isRunning() || isStale(),
      isStale,
      // The pipeline moved kafkajs's fetch position when it queued the batch; moving it here
      // would move it back.
      resolveOffset: () => {},
      commit: (next) =>
        commit(topic, partition, next, isStale, workedIn).then(() => watchdog.committed(partition, next)),
      heartbeat: async () => {
        watchdog.stage(`p${partition}`, "heartbeat");
        try {
          await heartbeat();
        } finally {
          watchdog.stage(`p${partition}`, "idle");
        }
      },
      sleep: (ms) => sleep(ms),
      ...chunkLoopEvents(batch, logger, metrics),
    });
  }

  const pipelines = pipelinesFor(consumer, processBatch, () => stopping, options);
  const eachBatch = async (payload: EachBatchPayload) => {
    if (stopping) return;
    await pipelines.enqueue(payload);
    metrics.consumer.inFlight.set(pipelines.inFlightBytes);
  };

  return {
    consumer,
    get healthy() {
      return healthy;
    },
    async start() {
      await consumer.connect();
      await consumer.subscribe({
        topics: [topics.transactions],
        fromBeginning: options.fromBeginning ?? true,
      });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.partitionsConcurrency,
        eachBatch,
      });
      watchdog.start();
    },
    async stop() {
      await group.flushCommits(); // the commits gathered, sent while still current
      stopping = true;
      await watchdog.stop();
      await pipelines.idle();
      await consumer.disconnect();
    },
  };
}

import type { Env } from "./config-env.ts";

/* The ingress's producer and the scorer's consumer: how they batch, fetch and commit (config.ts). */

export type ProducerConfig = Readonly<{
  timeoutMs: number;
  lingerMs: number;
  maxBatchMessages: number;
  maxBatchBytes: number;
}>;

export type ConsumerConfig = Readonly<{
  group: string;
  partitionsConcurrency: number;
  chunkSize: number;
  sessionTimeoutMs: number;
  /** The static member id (group.instance.id) of this process; undefined: a dynamic member. */
  instanceId: string | undefined;
  /** Message payload fetched and not yet durable, at most (the next fetch waits above it). */
  maxInFlightBytes: number;
  /** Rounds scored at once (the next decodes and loads while one persists), at most. */
  roundsInFlight: number;
  /** A round beyond the first starts only with this many messages waiting (round-combiner.ts). */
  overlapMinMessages: number;
  /** A round's messages, at most (whole chunks, at least one). */
  roundMaxMessages: number;
  /** A fetch waits at the broker up to maxWaitMs for minBytes (issue 38: rounds in proportion to the work). */
  fetch: Readonly<{ minBytes: number; maxWaitMs: number; idleWaitMs: number }>;
  /** Commits gathered into one request per this many ms (0: each chunk's sent alone). */
  commitIntervalMs: number;
  /** How often the model's drift is measured and stored (0: never). */
  driftIntervalMs: number;
  /** How long the entity memory (other users on a merchant or device) keeps a sighting. */
  entityRetentionMs: number;
}>;

export function producerConfig(e: Env): ProducerConfig {
  return {
    timeoutMs: e.PRODUCE_TIMEOUT_MS,
    lingerMs: e.PRODUCE_LINGER_MS,
    maxBatchMessages: e.PRODUCE_MAX_BATCH_MESSAGES,
    maxBatchBytes: e.PRODUCE_MAX_BATCH_BYTES,
  };
}

export function consumerConfig(e: Env): ConsumerConfig {
  return {
    group: e.CONSUMER_GROUP,
    partitionsConcurrency: e.CONSUMER_PARTITIONS_CONCURRENCY,
    chunkSize: e.CONSUMER_CHUNK_SIZE,
    sessionTimeoutMs: e.CONSUMER_SESSION_TIMEOUT_MS,
    instanceId: e.CONSUMER_INSTANCE_ID,
    maxInFlightBytes: e.CONSUMER_MAX_IN_FLIGHT_MIB * 1024 * 1024,
    roundsInFlight: e.CONSUMER_ROUNDS_IN_FLIGHT,
    overlapMinMessages: e.CONSUMER_OVERLAP_MIN_MESSAGES,
    roundMaxMessages: e.CONSUMER_ROUND_MAX_MESSAGES,
    fetch: {
      minBytes: e.CONSUMER_FETCH_MIN_BYTES,
      maxWaitMs: e.CONSUMER_FETCH_MAX_WAIT_MS,
      idleWaitMs: e.CONSUMER_FETCH_IDLE_WAIT_MS,
    },
    commitIntervalMs: e.CONSUMER_COMMIT_INTERVAL_MS,
    driftIntervalMs: e.MODEL_DRIFT_INTERVAL_SECONDS * 1000,
    entityRetentionMs: e.ENTITY_RETENTION_DAYS * 86_400_000,
  };
}

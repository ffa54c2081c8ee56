import { join } from "node:path";
import { z } from "zod";
import {
  type ApiKey,
  apiKeys,
  brokers,
  decimal,
  durations,
  fxRates,
  int,
  probability,
  topic,
  url,
} from "./config-values.ts";
import { SentinelError } from "./errors.ts";
import { REPO_ROOT } from "./paths.ts";

/*
 * The only file that reads process.env. Everything is parsed once into a frozen object; a bad
 * value stops start-up with every offending variable named. The value types are in config-values.ts.
 */

const EnvSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  LOG_PRETTY: z.stringbool().default(false),
  HOST: z.string().min(1).default("0.0.0.0"),
  PORT: int(8080, 0, 65535),
  METRICS_PORT: int(9464, 0, 65535),
  KAFKA_BROKERS: brokers,
  KAFKA_CLIENT_ID: z.string().min(1).default("sentinelstream"),
  DATABASE_URL: url(["postgres:", "postgresql:"]).default("postgres://postgres@127.0.0.1:5432/sentinel"),
  DATABASE_POOL_SIZE: int(20, 1, 200),
  REDIS_URL: url(["redis:", "rediss:"]).default("redis://127.0.0.1:6379"),
  REDIS_KEY_PREFIX: z.string().default("sentinel:"),
  SCHEMA_REGISTRY_URL: url(["http:", "https:", "mock:"]).optional(),
  SENTINEL_STACK_DIR: z.string().min(1).default(join(REPO_ROOT, ".stack")),
  API_KEYS: apiKeys,
  TOPIC_TRANSACTIONS: topic("transactions"),
  TOPIC_DECISIONS: topic("transactions.decisions"),
  TOPIC_DLQ: topic("transactions.dlq"),
  TOPIC_LABELS: topic("transactions.labels"),
  TOPIC_EVENTS: topic("sentinel.events"),
  TOPIC_TRANSACTIONS_PARTITIONS: int(12, 1, 1000),
  TOPIC_TRANSACTIONS_TIMESTAMP_TYPE: z.enum(["LogAppendTime", "CreateTime"]).default("LogAppendTime"),
  // Unset: chosen by the cluster's size when `init` creates the topics (src/kafka/topics.ts).
  TOPIC_REPLICATION_FACTOR: z.coerce.number().int().min(1).max(32).optional(),
  TOPIC_MIN_INSYNC_REPLICAS: z.coerce.number().int().min(1).max(32).optional(),
  AUTH_DISABLED: z.stringbool().default(false),
  HTTP_REQUEST_TIMEOUT_MS: int(10_000, 100, 600_000),
  HTTP_CONNECTION_TIMEOUT_MS: int(30_000, 100, 3_600_000),
  TIMESTAMP_MAX_AGE_HOURS: int(168, 1, 24 * 366),
  SYNC_WAIT_MAX_MS: int(2000, 0, 60_000),
  SYNC_MAX_PENDING: int(10_000, 1, 1_000_000),
  CASES_STREAM_MAX: int(100, 1, 10_000),
  CONSUMER_GROUP: z.string().min(1).default("sentinel-scorer"),
  CONSUMER_PARTITIONS_CONCURRENCY: int(12, 1, 64),
  CONSUMER_CHUNK_SIZE: int(1000, 1, 50_000),
  CONSUMER_SESSION_TIMEOUT_MS: int(6_000, 6_000, 300_000),
  // Kafka's group.instance.id: unique per consumer process, the same across its restarts.
  CONSUMER_INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,200}$/, "letters, digits, '.', '_' and '-' only, at most 200")
    .optional(),
  CONSUMER_MAX_IN_FLIGHT_MIB: int(16, 1, 1024),
  CONSUMER_ROUNDS_IN_FLIGHT: int(1, 1, 8),
  MESSAGE_MAX_BYTES: int(16_384, 256, 1_048_576),
  BODY_LIMIT_BYTES: int(16_384, 256, 1_048_576),
  PRODUCE_TIMEOUT_MS: int(2000, 50, 60_000),
  PRODUCE_LINGER_MS: int(2, 0, 1000),
  PRODUCE_MAX_BATCH_MESSAGES: int(1000, 1, 100_000),
  PRODUCE_MAX_BATCH_BYTES: int(900_000, 1024, 16_777_216),
  SHUTDOWN_TIMEOUT_MS: int(10_000, 100, 120_000),
  PROFILE_CACHE_TTL_SECONDS: int(300, 1, 86_400),
  PROFILE_CACHE_NEGATIVE_TTL_SECONDS: int(30, 1, 86_400),
  RULES_VELOCITY_MAX: int(5, 1, 10_000),
  RULES_VELOCITY_WINDOW_SECONDS: int(60, 1, 86_400),
  RULES_SPEND_WINDOW_HOURS: int(24, 1, 24 * 31),
  RULES_HIGH_RISK_AMOUNT: decimal("1000"),
  RULES_REVIEW_THRESHOLD: int(50, 1, 100),
  RULES_DECLINE_THRESHOLD: int(80, 1, 100),
  RULES_MODEL_REVIEW: probability("0.7"),
  RULES_MODEL_DECLINE: probability("0.95"),
  FX_RATES: fxRates,
  WEBHOOK_ALLOW_PRIVATE: z.stringbool().default(false),
  WEBHOOK_SECRET_KEY: z
    .string()
    .min(16, "must be at least 16 characters (32 random bytes in hex, say)")
    .optional(),
  WEBHOOK_TIMEOUT_MS: int(15_000, 100, 60_000),
  WEBHOOK_RETRY_SCHEDULE: durations("5s,5m,30m,2h,5h,10h,14h,20h,24h"),
  WEBHOOK_ENDPOINT_CONCURRENCY: int(64, 1, 256),
  WEBHOOK_DISABLE_AFTER_MS: int(5 * 86_400_000, 0, 365 * 86_400_000),
  WEBHOOK_SECRET_OVERLAP_MS: int(86_400_000, 0, 30 * 86_400_000),
});

type Env = z.infer<typeof EnvSchema>;

/** Outside production, without WEBHOOK_SECRET_KEY: secrets are sealed, but with a key anyone can read here. */
export const DEVELOPMENT_SECRET_KEY = "sentinelstream-development-only";

export type Config = Readonly<{
  env: Env["NODE_ENV"];
  log: Readonly<{ level: Env["LOG_LEVEL"]; pretty: boolean }>;
  http: Readonly<{
    host: string;
    port: number;
    /** Where `sentinel consume` alone serves /metrics, /healthz and /readyz; 0 turns it off. */
    metricsPort: number;
    bodyLimitBytes: number;
    /** Keys and the role each one grants (a key without a role is an admin key). */
    apiKeys: ReadonlyArray<ApiKey>;
    /** Explicitly no API keys (AUTH_DISABLED=true); without keys and without this, ingest refuses to start. */
    authDisabled: boolean;
    /** The whole request must arrive within this (slow-body clients cannot hold a connection). */
    requestTimeoutMs: number;
    /** A socket silent this long is closed. */
    connectionTimeoutMs: number;
    /** The longest `Prefer: wait` honoured (0: no sync waits, no decision listener). */
    syncWaitMaxMs: number;
    /** Open waits per process; beyond, a `Prefer: wait` request is answered at once (202). */
    syncMaxPending: number;
    /** Open GET /cases/stream streams per ingress process (beyond: 503). */
    casesStreamMax: number;
  }>;
  kafka: Readonly<{
    brokers: readonly string[];
    clientId: string;
    schemaRegistryUrl: string | undefined;
    /** `events`: what has no topic of its own (case.resolved, rules.activated), for the webhooks. */
    topics: Readonly<{
      transactions: string;
      decisions: string;
      dlq: string;
      labels: string;
      events: string;
    }>;
    transactionsPartitions: number;
    /** LogAppendTime: the broker stamps each transaction as it appends it (the rules' clock). */
    transactionsTimestampType: "LogAppendTime" | "CreateTime";
    /** Undefined: min(3, the cluster's brokers), when the topics are created. */
    replicationFactor: number | undefined;
    /** Undefined: 2 with a replication factor of 3 or more, else 1. */
    minInsyncReplicas: number | undefined;
    messageMaxBytes: number;
    /** A transaction `timestamp` older than this before its receipt is refused. */
    timestampMaxAgeMs: number;
  }>;
  producer: Readonly<{
    timeoutMs: number;
    lingerMs: number;
    maxBatchMessages: number;
    maxBatchBytes: number;
  }>;
  consumer: Readonly<{
    group: string;
    partitionsConcurrency: number;
    chunkSize: number;
    sessionTimeoutMs: number;
    /** The static member id (group.instance.id) of this process; undefined: a dynamic member. */
    instanceId: string | undefined;
    /** Message payload fetched and not yet durable, at most (the next fetch waits above it). */
    maxInFlightBytes: number;
    /** Rounds scored at once (the next decodes and loads while one persists). */
    roundsInFlight: number;
  }>;
  database: Readonly<{ url: string; poolSize: number }>;
  redis: Readonly<{ url: string; keyPrefix: string }>;
  cache: Readonly<{ ttlSeconds: number; negativeTtlSeconds: number }>;
  rules: Readonly<{
    velocityMax: number;
    velocityWindowSeconds: number;
    spendWindowHours: number;
    highRiskAmount: string;
    reviewThreshold: number;
    declineThreshold: number;
    /** model.score at or above which the default set reviews, and declines (issue 24). */
    modelReview: string;
    modelDecline: string;
    fxRates: Readonly<Record<string, string>>;
  }>;
  webhooks: Readonly<{
    /** Private, loopback and link-local destinations allowed (tests and development only). */
    allowPrivate: boolean;
    /** Seals the signing secrets at rest; required in production. */
    secretKey: string;
    timeoutMs: number;
    /** The delay after each failed attempt; the delivery has failed after the last. */
    retryScheduleMs: readonly number[];
    /** Deliveries in flight to one endpoint at most (a slow one never holds the others' slots). */
    endpointConcurrency: number;
    /** An endpoint whose every attempt failed for this long is disabled. */
    disableAfterMs: number;
    /** How long a rotated secret keeps signing beside the new one. */
    secretOverlapMs: number;
  }>;
  shutdownTimeoutMs: number;
  /** Where the local stack keeps Kafka's jars, data, logs and pid files. */
  stackDir: string;
}>;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** What no single variable's schema can see: combinations that contradict each other. */
function checkCombinations(e: Env): void {
  if (
    e.TOPIC_MIN_INSYNC_REPLICAS !== undefined &&
    e.TOPIC_MIN_INSYNC_REPLICAS > (e.TOPIC_REPLICATION_FACTOR ?? Number.POSITIVE_INFINITY)
  ) {
    throw new SentinelError(
      "config_invalid",
      "invalid configuration:\n  TOPIC_MIN_INSYNC_REPLICAS: must not exceed TOPIC_REPLICATION_FACTOR",
    );
  }
  if (e.NODE_ENV === "production" && e.WEBHOOK_SECRET_KEY === undefined) {
    throw new SentinelError(
      "config_invalid",
      "invalid configuration:\n  WEBHOOK_SECRET_KEY: required in production (it seals the webhook signing secrets at rest)",
    );
  }
  if (e.RULES_REVIEW_THRESHOLD > e.RULES_DECLINE_THRESHOLD) {
    throw new SentinelError(
      "config_invalid",
      "invalid configuration:\n  RULES_REVIEW_THRESHOLD: must not exceed RULES_DECLINE_THRESHOLD",
    );
  }
}

function webhooksConfig(e: Env): Config["webhooks"] {
  return {
    allowPrivate: e.WEBHOOK_ALLOW_PRIVATE,
    secretKey: e.WEBHOOK_SECRET_KEY ?? DEVELOPMENT_SECRET_KEY,
    timeoutMs: e.WEBHOOK_TIMEOUT_MS,
    retryScheduleMs: e.WEBHOOK_RETRY_SCHEDULE,
    endpointConcurrency: e.WEBHOOK_ENDPOINT_CONCURRENCY,
    disableAfterMs: e.WEBHOOK_DISABLE_AFTER_MS,
    secretOverlapMs: e.WEBHOOK_SECRET_OVERLAP_MS,
  };
}

/**
 * Parses the environment into a frozen Config.
 * @throws SentinelError(config_invalid) naming every offending variable.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  defaults: Record<string, string> = {},
): Config {
  // An empty variable means "unset", as in most twelve-factor tooling; `defaults` (a command's own,
  // such as LOG_LEVEL=warn for one-shot tools) apply where the environment says nothing.
  const cleaned = Object.fromEntries(
    Object.entries({ ...defaults, ...env }).filter(([, v]) => v !== undefined && v !== ""),
  );
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(env)"}: ${i.message}`);
    throw new SentinelError("config_invalid", `invalid configuration:\n${lines.join("\n")}`, {
      issues: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
    });
  }
  const e = parsed.data;
  checkCombinations(e);
  return deepFreeze({
    env: e.NODE_ENV,
    log: { level: e.LOG_LEVEL, pretty: e.LOG_PRETTY },
    http: {
      host: e.HOST,
      port: e.PORT,
      metricsPort: e.METRICS_PORT,
      bodyLimitBytes: e.BODY_LIMIT_BYTES,
      apiKeys: e.API_KEYS,
      authDisabled: e.AUTH_DISABLED,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      connectionTimeoutMs: e.HTTP_CONNECTION_TIMEOUT_MS,
      syncWaitMaxMs: e.SYNC_WAIT_MAX_MS,
      syncMaxPending: e.SYNC_MAX_PENDING,
      casesStreamMax: e.CASES_STREAM_MAX,
    },
    kafka: {
      brokers: e.KAFKA_BROKERS,
      clientId: e.KAFKA_CLIENT_ID,
      schemaRegistryUrl: e.SCHEMA_REGISTRY_URL,
      topics: {
        transactions: e.TOPIC_TRANSACTIONS,
        decisions: e.TOPIC_DECISIONS,
        dlq: e.TOPIC_DLQ,
        labels: e.TOPIC_LABELS,
        events: e.TOPIC_EVENTS,
      },
      transactionsPartitions: e.TOPIC_TRANSACTIONS_PARTITIONS,
      transactionsTimestampType: e.TOPIC_TRANSACTIONS_TIMESTAMP_TYPE,
      replicationFactor: e.TOPIC_REPLICATION_FACTOR,
      minInsyncReplicas: e.TOPIC_MIN_INSYNC_REPLICAS,
      messageMaxBytes: e.MESSAGE_MAX_BYTES,
      timestampMaxAgeMs: e.TIMESTAMP_MAX_AGE_HOURS * 3_600_000,
    },
    producer: {
      timeoutMs: e.PRODUCE_TIMEOUT_MS,
      lingerMs: e.PRODUCE_LINGER_MS,
      maxBatchMessages: e.PRODUCE_MAX_BATCH_MESSAGES,
      maxBatchBytes: e.PRODUCE_MAX_BATCH_BYTES,
    },
    consumer: {
      group: e.CONSUMER_GROUP,
      partitionsConcurrency: e.CONSUMER_PARTITIONS_CONCURRENCY,
      chunkSize: e.CONSUMER_CHUNK_SIZE,
      sessionTimeoutMs: e.CONSUMER_SESSION_TIMEOUT_MS,
      instanceId: e.CONSUMER_INSTANCE_ID,
      maxInFlightBytes: e.CONSUMER_MAX_IN_FLIGHT_MIB * 1024 * 1024,
      roundsInFlight: e.CONSUMER_ROUNDS_IN_FLIGHT,
    },
    database: { url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE },
    redis: { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX },
    cache: {
      ttlSeconds: e.PROFILE_CACHE_TTL_SECONDS,
      negativeTtlSeconds: e.PROFILE_CACHE_NEGATIVE_TTL_SECONDS,
    },
    rules: {
      velocityMax: e.RULES_VELOCITY_MAX,
      velocityWindowSeconds: e.RULES_VELOCITY_WINDOW_SECONDS,
      spendWindowHours: e.RULES_SPEND_WINDOW_HOURS,
      highRiskAmount: e.RULES_HIGH_RISK_AMOUNT,
      reviewThreshold: e.RULES_REVIEW_THRESHOLD,
      declineThreshold: e.RULES_DECLINE_THRESHOLD,
      modelReview: e.RULES_MODEL_REVIEW,
      modelDecline: e.RULES_MODEL_DECLINE,
      fxRates: e.FX_RATES,
    },
    webhooks: webhooksConfig(e),
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    stackDir: e.SENTINEL_STACK_DIR,
  });
}

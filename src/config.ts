import { type Env, EnvSchema } from "./config-env.ts";
import {
  checkCombinations,
  deepFreeze,
  type KafkaSecurity,
  kafkaSecurity,
  type RetentionPolicy,
  retentionPolicy,
  type TopicKind,
  withPassword,
  withSecretFiles,
} from "./config-secrets.ts";

export type { KafkaSecurity, TopicKind };

import {
  type ConsumerConfig,
  consumerConfig,
  type ProducerConfig,
  producerConfig,
} from "./config-pipeline.ts";
import type { ApiKey } from "./config-values.ts";
import { SentinelError } from "./errors.ts";

/*
 * The only file that reads process.env, parsed once into a frozen object; a bad value stops
 * start-up naming every offending variable. Variables: config-env.ts; their types: config-values.ts.
 */

/** Outside production, without WEBHOOK_SECRET_KEY: secrets are sealed, but with a key anyone can read here. */
export const DEVELOPMENT_SECRET_KEY = "sentinelstream-development-only";

/** Days as Kafka's retention.ms: 0 days keeps everything (-1). */
const retentionMs = (days: number) => (days === 0 ? -1 : days * 86_400_000);

export type Config = Readonly<{
  env: Env["NODE_ENV"];
  /** `sentinel dev`: development conveniences allowed (the webhooks' development key). */
  devMode: boolean;
  /** `sentinel doctor` checks a production start may skip (each named, logged at every start). */
  waivers: readonly string[];
  log: Readonly<{ level: Env["LOG_LEVEL"]; pretty: boolean }>;
  /** SENTINEL_OPERATOR: who runs the command-line tools (audit trail); unset, the OS user. */
  operator: string | undefined;
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
    /** Of those, per API key (beyond: 429). */
    casesStreamMaxPerKey: number;
    /** Requests per minute per API key (shared by every ingress through Redis); 0: no limit. */
    rateLimit: Readonly<{ ingestPerMinute: number; perMinute: number }>;
    /** /metrics and /docs on this port (and host) instead of the API port; 0: on the API port. */
    internalPort: number;
    internalHost: string;
  }>;
  kafka: Readonly<{
    brokers: readonly string[];
    clientId: string;
    schemaRegistryUrl: string | undefined;
    /** `events`: what has no topic of its own (case.resolved, rules.activated), for the webhooks. */
    topics: Readonly<Record<TopicKind, string>>;
    transactionsPartitions: number;
    /** LogAppendTime: the broker stamps each transaction as it appends it (the rules' clock). */
    transactionsTimestampType: "LogAppendTime" | "CreateTime";
    /** Undefined: min(3, the cluster's brokers), when the topics are created. */
    replicationFactor: number | undefined;
    /** Undefined: 2 with a replication factor of 3 or more, else 1. */
    minInsyncReplicas: number | undefined;
    messageMaxBytes: number;
    /** retention.ms per topic kind, set by `init` on every topic (issue 34). */
    retentionMs: Readonly<Record<TopicKind, number>>;
    /** TLS and SASL for every client we make (src/kafka/client.ts). */
    security: KafkaSecurity;
    /** The Schema Registry's basic auth (`user:password`) and the CA of its https. */
    schemaRegistry: Readonly<{ userInfo: string | undefined; caFile: string | undefined }>;
    /** A transaction `timestamp` older than this before its receipt is refused. */
    timestampMaxAgeMs: number;
  }>;
  producer: ProducerConfig;
  consumer: ConsumerConfig;
  database: Readonly<{
    url: string;
    poolSize: number;
    /** What migrate and init connect with (the owner); DATABASE_URL when not set apart. */
    migrateUrl: string;
    runtimeRole: string;
    runtimePassword: string | undefined;
  }>;
  redis: Readonly<{ url: string; keyPrefix: string; caFile: string | undefined }>;
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
    /** Also from the model's own levels (its held-out days' 3 and 1 per 1,000). */
    modelOwnThresholds: boolean;
    fxRates: Readonly<Record<string, string>>;
  }>;
  webhooks: Readonly<{
    /** Private, loopback and link-local destinations allowed (tests and development only). */
    allowPrivate: boolean;
    /** Seals the signing secrets at rest; required wherever webhooks run but `sentinel dev`. */
    secretKey: string;
    /** Whether secretKey is the development constant (WEBHOOK_SECRET_KEY unset). */
    secretKeyIsDevelopment: boolean;
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
  /** Four eyes (issue 37): changes that alter decisions wait for a second person's approval. */
  approvals: Readonly<{ required: boolean; expireMs: number }>;
  /** What the retention job keeps (src/store/retention.ts), and how often it runs (0: never). */
  retention: RetentionPolicy & Readonly<{ intervalMs: number }>;
  shutdownTimeoutMs: number;
  /** Where the local stack keeps Kafka's jars, data, logs and pid files. */
  stackDir: string;
}>;

function kafkaConfig(e: Env): Config["kafka"] {
  return {
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
    retentionMs: {
      transactions: retentionMs(e.TOPIC_TRANSACTIONS_RETENTION_DAYS),
      decisions: retentionMs(e.TOPIC_DECISIONS_RETENTION_DAYS),
      dlq: retentionMs(e.TOPIC_DLQ_RETENTION_DAYS),
      labels: retentionMs(e.TOPIC_LABELS_RETENTION_DAYS),
      events: retentionMs(e.TOPIC_EVENTS_RETENTION_DAYS),
    },
    security: kafkaSecurity(e),
    schemaRegistry: { userInfo: e.SCHEMA_REGISTRY_USER_INFO, caFile: e.SCHEMA_REGISTRY_CA_FILE },
    timestampMaxAgeMs: e.TIMESTAMP_MAX_AGE_HOURS * 3_600_000,
  };
}

function webhooksConfig(e: Env): Config["webhooks"] {
  return {
    allowPrivate: e.WEBHOOK_ALLOW_PRIVATE,
    secretKey: e.WEBHOOK_SECRET_KEY ?? DEVELOPMENT_SECRET_KEY,
    secretKeyIsDevelopment: e.WEBHOOK_SECRET_KEY === undefined,
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
  const cleaned = withSecretFiles(
    Object.fromEntries(
      Object.entries({ ...defaults, ...env }).filter(
        (e): e is [string, string] => e[1] !== undefined && e[1] !== "",
      ),
    ),
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
    devMode: e.SENTINEL_DEV,
    waivers: e.DOCTOR_WAIVE,
    log: { level: e.LOG_LEVEL, pretty: e.LOG_PRETTY },
    operator: e.SENTINEL_OPERATOR,
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
      casesStreamMaxPerKey: e.CASES_STREAM_MAX_PER_KEY,
      rateLimit: { ingestPerMinute: e.RATE_LIMIT_INGEST_PER_MINUTE, perMinute: e.RATE_LIMIT_PER_MINUTE },
      internalPort: e.HTTP_INTERNAL_PORT,
      internalHost: e.HTTP_INTERNAL_HOST,
    },
    kafka: kafkaConfig(e),
    producer: producerConfig(e),
    consumer: consumerConfig(e),
    database: {
      url: withPassword(e.DATABASE_URL, e.DATABASE_PASSWORD),
      poolSize: e.DATABASE_POOL_SIZE,
      migrateUrl: e.DATABASE_MIGRATE_URL ?? withPassword(e.DATABASE_URL, e.DATABASE_PASSWORD),
      runtimeRole: e.DATABASE_RUNTIME_ROLE,
      runtimePassword: e.DATABASE_RUNTIME_PASSWORD,
    },
    redis: {
      url: withPassword(e.REDIS_URL, e.REDIS_PASSWORD),
      keyPrefix: e.REDIS_KEY_PREFIX,
      caFile: e.REDIS_TLS_CA_FILE,
    },
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
      modelOwnThresholds: e.RULES_MODEL_OWN_THRESHOLDS,
      fxRates: e.FX_RATES,
    },
    webhooks: webhooksConfig(e),
    approvals: { required: e.APPROVALS_REQUIRED, expireMs: e.APPROVALS_EXPIRE_HOURS * 3_600_000 },
    retention: retentionPolicy(e),
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    stackDir: e.SENTINEL_STACK_DIR,
  });
}

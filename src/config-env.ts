import { join } from "node:path";
import { z } from "zod";
import {
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
import { REPO_ROOT } from "./paths.ts";

/*
 * Every environment variable the service reads, with its type and default. Parsed once by
 * config.ts (the only file that reads process.env) into the frozen Config.
 */

export const EnvSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  LOG_PRETTY: z.stringbool().default(false),
  /** Who runs the command-line tools, for the audit trail (default: the operating-system user). */
  SENTINEL_OPERATOR: z
    .string()
    .regex(/^[A-Za-z0-9._@-]{1,64}$/, "must be a name of 1-64 letters, digits or . _ @ -")
    .optional(),
  HOST: z.string().min(1).default("0.0.0.0"),
  PORT: int(8080, 0, 65535),
  METRICS_PORT: int(9464, 0, 65535),
  KAFKA_BROKERS: brokers,
  KAFKA_CLIENT_ID: z.string().min(1).default("sentinelstream"),
  /** TLS to the brokers (issue 34): on with KAFKA_SSL=true; a CA, a client certificate (mTLS). */
  KAFKA_SSL: z.stringbool().default(false),
  KAFKA_SSL_CA_FILE: z.string().min(1).optional(),
  KAFKA_SSL_CERT_FILE: z.string().min(1).optional(),
  KAFKA_SSL_KEY_FILE: z.string().min(1).optional(),
  /** The name the brokers' certificates must carry, when it is not the host in KAFKA_BROKERS. */
  KAFKA_SSL_SERVERNAME: z.string().min(1).optional(),
  KAFKA_SASL_MECHANISM: z.enum(["plain", "scram-sha-256", "scram-sha-512"]).optional(),
  KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
  /** `user:password` for the Schema Registry's basic auth; a CA for its https. */
  SCHEMA_REGISTRY_USER_INFO: z
    .string()
    .regex(/^[^:]+:.+$/, "must be user:password")
    .optional(),
  SCHEMA_REGISTRY_CA_FILE: z.string().min(1).optional(),
  /** Merged into DATABASE_URL / REDIS_URL (so a password can come from a file: *_FILE). */
  DATABASE_PASSWORD: z.string().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  /** A CA for rediss:// (a private CA; the system's CAs otherwise). */
  REDIS_TLS_CA_FILE: z.string().min(1).optional(),
  /** How often each consumer measures and stores the model's drift (issue 36); 0: never. */
  MODEL_DRIFT_INTERVAL_SECONDS: int(60, 0, 3600),
  /** How long the scorer's entity memory keeps what it saw (issue 36 §2; a replay further back reads less). */
  ENTITY_RETENTION_DAYS: int(14, 3, 90),
  /** Four eyes (issue 37): the production setting; `sentinel dev` turns it off. */
  APPROVALS_REQUIRED: z.stringbool().default(false),
  APPROVALS_EXPIRE_HOURS: int(24, 1, 720),
  /** Retention in PostgreSQL (issue 34, src/store/retention.ts); the job runs every interval (0: off). */
  RETENTION_TRANSACTIONS_DAYS: int(90, 7, 3650),
  RETENTION_CASES_DAYS: int(365, 7, 3650),
  RETENTION_WEBHOOK_DELIVERIES_DAYS: int(30, 1, 3650),
  RETENTION_OUTBOX_DAYS: int(7, 1, 3650),
  /** Per-user state (buckets, last-seen values): at least the widest window of any rule set (≤ 366 d). */
  RETENTION_USER_STATE_DAYS: int(366, 1, 3650),
  RETENTION_INTERVAL_MINUTES: int(60, 0, 10_080),
  /** `sentinel doctor` checks a production start refuses to skip unless named here (issue 34). */
  DOCTOR_WAIVE: z
    .string()
    .default("")
    .transform((s) =>
      s
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean),
    ),
  /** Set by `sentinel dev` only: development conveniences (the webhooks' development key). */
  SENTINEL_DEV: z.stringbool().default(false),
  DATABASE_URL: url(["postgres:", "postgresql:"]).default("postgres://postgres@127.0.0.1:5432/sentinel"),
  DATABASE_POOL_SIZE: int(20, 1, 200),
  /** `sentinel migrate` / `init` connect with this (the schema's owner) when set; else DATABASE_URL. */
  DATABASE_MIGRATE_URL: url(["postgres:", "postgresql:"]).optional(),
  /** The role the services run as: created NOLOGIN by migrate and granted what they use. */
  DATABASE_RUNTIME_ROLE: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case PostgreSQL role name")
    .default("sentinel_app"),
  /** When set, migrate lets the runtime role log in with this password. */
  DATABASE_RUNTIME_PASSWORD: z.string().min(1).optional(),
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
  /** retention.ms `init` sets on each topic, in days; 0 keeps everything (issue 34: a replay must find what it asks for). */
  TOPIC_TRANSACTIONS_RETENTION_DAYS: int(90, 0, 3650),
  TOPIC_DECISIONS_RETENTION_DAYS: int(30, 0, 3650),
  TOPIC_DLQ_RETENTION_DAYS: int(90, 0, 3650),
  TOPIC_LABELS_RETENTION_DAYS: int(365, 0, 3650),
  TOPIC_EVENTS_RETENTION_DAYS: int(30, 0, 3650),
  AUTH_DISABLED: z.stringbool().default(false),
  HTTP_REQUEST_TIMEOUT_MS: int(10_000, 100, 600_000),
  HTTP_CONNECTION_TIMEOUT_MS: int(30_000, 100, 3_600_000),
  TIMESTAMP_MAX_AGE_HOURS: int(168, 1, 24 * 366),
  SYNC_WAIT_MAX_MS: int(2000, 0, 60_000),
  SYNC_MAX_PENDING: int(10_000, 1, 1_000_000),
  CASES_STREAM_MAX: int(100, 1, 10_000),
  /** Live case streams one API key may hold open per process (issue 35). */
  CASES_STREAM_MAX_PER_KEY: int(5, 1, 10_000),
  /** Requests per minute per API key, ingest keys / the others; 0 turns the limit off (issue 35). */
  RATE_LIMIT_INGEST_PER_MINUTE: int(600_000, 0, 100_000_000),
  RATE_LIMIT_PER_MINUTE: int(1_200, 0, 100_000_000),
  /** Where /metrics and /docs are served instead of the API port (0: on the API port). */
  HTTP_INTERNAL_PORT: int(0, 0, 65535),
  HTTP_INTERNAL_HOST: z.string().min(1).default("127.0.0.1"),
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
  CONSUMER_ROUNDS_IN_FLIGHT: int(2, 1, 8),
  /** A second round starts while one runs only with this many messages waiting (a backlog). */
  CONSUMER_OVERLAP_MIN_MESSAGES: int(2_000, 1, 1_000_000),
  /** A round's messages, at most (whole chunks, at least one). */
  CONSUMER_ROUND_MAX_MESSAGES: int(6_000, 1, 1_000_000),
  /** The scorer's fetch: answered once this much is there, or after the wait (issue 38). */
  CONSUMER_FETCH_MIN_BYTES: int(262_144, 1, 16_777_216),
  CONSUMER_FETCH_MAX_WAIT_MS: int(25, 1, 1_000),
  /** After a fetch that returned nothing, the next asks for one byte and waits this long (0: never). */
  CONSUMER_FETCH_IDLE_WAIT_MS: int(250, 0, 5_000),
  CONSUMER_COMMIT_INTERVAL_MS: int(100, 0, 5_000),
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
  /** The default rules also review and decline from the active model's own levels (issue 36). */
  RULES_MODEL_OWN_THRESHOLDS: z.stringbool().default(true),
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

export type Env = z.infer<typeof EnvSchema>;

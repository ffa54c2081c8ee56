import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import type { Kafka } from "kafkajs";
import pg from "pg";
import { type Config, loadConfig } from "../config.ts";
import { withAdmin } from "../kafka/admin.ts";
import { createKafka } from "../kafka/client.ts";
import { ensureTopics } from "../kafka/topics.ts";
import { createLogger } from "../logger.ts";
import { ensureDatabase } from "../store/database.ts";
import { migrate } from "../store/migrate.ts";

/*
 * An isolated slice of the shared services for one test or benchmark run: its own database,
 * topics, consumer group and Redis key prefix (random suffix), created ready to use and removed
 * by cleanup(). Integration tests and benchmarks both use it, so they can run beside live data.
 */

export type Sandbox = {
  id: string;
  config: Config;
  /** The environment a `sentinel` child process needs to work inside the sandbox. */
  env: Record<string, string>;
  kafka: Kafka;
  cleanup(): Promise<void>;
};

export type Services = {
  kafkaBrokers: string;
  databaseUrl: string;
  redisUrl: string;
  /** A Confluent-compatible Schema Registry, if any (tests opt in with SCHEMA_REGISTRY_URL). */
  schemaRegistryUrl?: string;
};

export async function createSandbox(
  services: Services,
  { prefix = "sandbox", overrides = {} }: { prefix?: string; overrides?: Record<string, string> } = {},
): Promise<Sandbox> {
  const id = randomBytes(4).toString("hex");
  const db = new URL(services.databaseUrl);
  db.pathname = `/sentinel_${prefix}_${id}`;
  const env: Record<string, string> = {
    KAFKA_BROKERS: services.kafkaBrokers,
    DATABASE_URL: db.toString(),
    REDIS_URL: services.redisUrl,
    REDIS_KEY_PREFIX: `sentinel-${prefix}-${id}:`,
    TOPIC_TRANSACTIONS: `${prefix}-${id}`,
    TOPIC_DECISIONS: `${prefix}-${id}.decisions`,
    TOPIC_DLQ: `${prefix}-${id}.dlq`,
    TOPIC_LABELS: `${prefix}-${id}.labels`,
    TOPIC_EVENTS: `${prefix}-${id}.events`,
    CONSUMER_GROUP: `scorer-${prefix}-${id}`,
    METRICS_PORT: "0",
    // Tests and benchmarks run without API keys, explicitly (the ingress refuses otherwise), and so
    // on loopback only.
    AUTH_DISABLED: "true",
    HOST: "127.0.0.1",
    // A key of its own (webhooks refuse to run on the development key outside `sentinel dev`).
    WEBHOOK_SECRET_KEY: randomBytes(24).toString("hex"),
    // Its topics keep what they are written (a replay or backtest over them reads all of it).
    TOPIC_TRANSACTIONS_RETENTION_DAYS: "0",
    TOPIC_DECISIONS_RETENTION_DAYS: "0",
    TOPIC_DLQ_RETENTION_DAYS: "0",
    TOPIC_LABELS_RETENTION_DAYS: "0",
    TOPIC_EVENTS_RETENTION_DAYS: "0",
    ...overrides,
  };
  const config = loadConfig(env);
  await ensureDatabase(config.database.url);
  await migrate(config.database.url);
  const kafka = createKafka({
    brokers: config.kafka.brokers,
    clientId: `${prefix}-${id}`,
    security: config.kafka.security,
    logger: createLogger(config, prefix).child({}, { level: "fatal" }),
  });
  await withAdmin(kafka, (admin) => ensureTopics(admin, config.kafka));

  return {
    id,
    config,
    env,
    kafka,
    async cleanup() {
      await withAdmin(kafka, (admin) =>
        admin.deleteTopics({ topics: Object.values(config.kafka.topics) }),
      ).catch(() => {});
      await deleteKeys(config.redis.url, config.redis.keyPrefix);
      const admin = new URL(config.database.url);
      const name = admin.pathname.slice(1);
      admin.pathname = "/postgres";
      const client = new pg.Client({ connectionString: admin.toString() });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Deletes every key under `prefix` (SCAN, bounded); a Redis that is away has nothing to delete. */
async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on("error", () => {});
  try {
    await redis.connect();
    let cursor = "0";
    for (let i = 0; i < 100_000; i++) {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
      if (cursor === "0") break;
    }
  } catch {
    // nothing of ours to clean
  } finally {
    redis.disconnect();
  }
}

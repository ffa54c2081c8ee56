import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import pg from "pg";
import { inject } from "vitest";
import { type Config, loadConfig } from "../../src/config.ts";
import { ensureTopics } from "../../src/kafka/topics.ts";
import { createLogger, type Logger } from "../../src/logger.ts";
import { ensureDatabase } from "../../src/stack/stack.ts";
import { migrate } from "../../src/store/migrate.ts";

/*
 * Isolation for one integration test (or file): its own database, topics, consumer group and
 * Redis key prefix, all with a random suffix, removed by cleanup(). Tests may run in parallel.
 */

export type TestContext = {
  id: string;
  config: Config;
  env: Record<string, string>;
  logger: Logger;
  kafka: Kafka;
  cleanup(): Promise<void>;
};

export async function createTestContext(overrides: Record<string, string> = {}): Promise<TestContext> {
  const services = inject("services");
  const id = randomBytes(4).toString("hex");
  const db = new URL(services.databaseUrl);
  db.pathname = `/sentinel_test_${id}`;
  const env: Record<string, string> = {
    NODE_ENV: "test",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
    KAFKA_BROKERS: services.kafkaBrokers,
    DATABASE_URL: db.toString(),
    REDIS_URL: services.redisUrl,
    REDIS_KEY_PREFIX: `sentinel-test-${id}:`,
    TOPIC_TRANSACTIONS: `tx-${id}`,
    TOPIC_DECISIONS: `tx-${id}.decisions`,
    TOPIC_DLQ: `tx-${id}.dlq`,
    CONSUMER_GROUP: `scorer-${id}`,
    METRICS_PORT: "0",
    PORT: "0",
    HOST: "127.0.0.1",
    ...overrides,
  };
  const config = loadConfig(env);
  const logger = createLogger(config, `test-${id}`);
  await ensureDatabase(config.database.url);
  await migrate(config.database.url);
  const kafka = new Kafka({
    clientId: `test-${id}`,
    brokers: [...config.kafka.brokers],
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, config.kafka);
  await admin.disconnect();

  return {
    id,
    config,
    env,
    logger,
    kafka,
    async cleanup() {
      const a = kafka.admin();
      await a.connect();
      await a
        .deleteTopics({ topics: Object.values(config.kafka.topics) })
        .catch(() => {})
        .finally(() => a.disconnect());
      const redis = new Redis(config.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      redis.on("error", () => {});
      try {
        await redis.connect();
        let cursor = "0";
        for (let i = 0; i < 10_000; i++) {
          const [next, keys] = await redis.scan(cursor, "MATCH", `${config.redis.keyPrefix}*`, "COUNT", 1000);
          if (keys.length > 0) await redis.del(...keys);
          cursor = next;
          if (cursor === "0") break;
        }
      } catch {
        // Redis may be what the test took away; nothing of ours to clean then.
      } finally {
        redis.disconnect();
      }
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

/** A SQL client on the test's own database, for assertions. */
export async function sqlClient(config: Config): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: config.database.url });
  await client.connect();
  return client;
}

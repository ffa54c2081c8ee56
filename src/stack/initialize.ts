import { Redis } from "ioredis";
import { redisOptions } from "../cache/redis-client.ts";
import type { Config, KafkaSecurity } from "../config.ts";
import { redactedUrl } from "../config-secrets.ts";
import { withAdmin } from "../kafka/admin.ts";
import { createKafka } from "../kafka/client.ts";
import { ensureTopics } from "../kafka/topics.ts";
import type { Logger } from "../logger.ts";
import { pollUntil } from "../poll.ts";
import { prepareDatabase } from "../store/database.ts";

/*
 * `sentinel init` (and the last step of `stack up`): Kafka reachable and the topics created with
 * their retention, the database created and migrated, Redis checked.
 */

/** Waits until kafkajs can describe the cluster with at least `size` brokers. @throws after `timeoutMs`. */
export async function waitForKafka(
  brokers: readonly string[],
  logger: Logger,
  timeoutMs = 90_000,
  size = 1,
  security?: KafkaSecurity,
): Promise<void> {
  const kafka = createKafka({
    brokers,
    clientId: "sentinel-stack",
    logger: logger.child({}, { level: "fatal" }),
    security,
  });
  await pollUntil(
    async () => {
      const cluster = await withAdmin(kafka, (admin) => admin.describeCluster(), { retry: { retries: 0 } });
      return cluster.brokers.length >= size && cluster.controller !== null;
    },
    {
      timeoutMs,
      everyMs: 500,
      onTimeout: (lastError) => {
        throw new Error(
          `Kafka at ${brokers.join(",")} not ready after ${timeoutMs} ms: ${(lastError as Error)?.message}`,
        );
      },
    },
  );
}

export async function redisReachable(url: string, caFile?: string): Promise<boolean> {
  const redis = new Redis(url, {
    ...redisOptions(url, caFile),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1_000,
    retryStrategy: () => null,
  });
  redis.on("error", () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/**
 * What a fresh deployment needs once the services run: Kafka reachable and the topics created
 * (retention set on each), the database created and migrated, Redis checked. Idempotent
 * (`sentinel init`, docker compose).
 * @throws when Kafka is not reachable in time or PostgreSQL cannot be prepared.
 */
export async function initialize(config: Config, logger: Logger): Promise<void> {
  await waitForKafka(config.kafka.brokers, logger, 90_000, 1, config.kafka.security);
  const kafka = createKafka({
    brokers: config.kafka.brokers,
    clientId: "sentinel-init",
    logger,
    security: config.kafka.security,
  });
  const created = await withAdmin(kafka, (admin) => ensureTopics(admin, config.kafka));
  logger.info({ created, topics: config.kafka.topics, retentionMs: config.kafka.retentionMs }, "kafka ready");
  const applied = await prepareDatabase(config, logger);
  logger.info({ applied }, "postgresql ready");
  if (await redisReachable(config.redis.url, config.redis.caFile))
    logger.info({ redis: redactedUrl(config.redis.url) }, "redis ready");
  else
    logger.warn(
      { redis: redactedUrl(config.redis.url) },
      "redis not reachable; scoring will read profiles from PostgreSQL",
    );
}

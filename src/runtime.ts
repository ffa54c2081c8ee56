import type { Client as RegistryClient } from "@confluentinc/schemaregistry";
import type { Redis } from "ioredis";
import type { Kafka } from "kafkajs";
import { createRedisClient } from "./cache/redis-client.ts";
import { createProfileCache, type ProfileCache } from "./cache/redis-profile-cache.ts";
import type { Config } from "./config.ts";
import { createKafka } from "./kafka/client.ts";
import { createManagedProducer, type ManagedProducer } from "./kafka/producer.ts";
import type { TransactionSchemaIds } from "./kafka/schema-registry.ts";
import type { Logger } from "./logger.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { createDatabasePoolWhenReachable, type DatabasePool, pingDatabase } from "./store/pool.ts";
import { createProfileStore, type ProfileStore } from "./store/profile-store.ts";
import { createTransactionStore, type TransactionStore } from "./store/transaction-store.ts";

/**
 * The clients one process shares between its parts (ingest, consumer), created from config and
 * closed together. Parts receive what they need from here; nothing else creates a client.
 */
export type Runtime = {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  pool: DatabasePool;
  redis: Redis;
  kafka: Kafka;
  producer: ManagedProducer;
  profiles: ProfileStore;
  transactions: TransactionStore;
  profileCache: ProfileCache;
  /**
   * The Schema Registry client when SCHEMA_REGISTRY_URL is set, else undefined. Loaded on first
   * use: the library weighs ~70 MiB of RSS, which a process without a registry does not pay.
   */
  registry(): Promise<RegistryClient | undefined>;
  /**
   * The transaction schema ids when SCHEMA_REGISTRY_URL is set (shared by ingest and consumer;
   * nothing is asked of the registry until they do), else undefined: plain JSON only.
   */
  schemaIds(): Promise<TransactionSchemaIds | undefined>;
  /** Whether each named dependency answers now (only those asked for). */
  readiness(needs: readonly Dependency[]): Promise<Record<string, boolean>>;
  close(): Promise<void>;
};

export type Dependency = "kafka" | "postgres" | "redis" | "registry";

/** What a process's parts need to do their work: `/readyz` checks these and nothing else. */
export function dependenciesOf(
  config: Config,
  parts: { ingest: boolean; consumer: boolean; webhooks?: boolean },
): Dependency[] {
  const needs = new Set<Dependency>();
  // POST /transaction needs Kafka (and the registry it frames with); reads of stored transactions
  // and profile writes degrade to 503 on their own without making the ingress unready.
  if (parts.ingest) {
    needs.add("kafka");
    if (config.kafka.schemaRegistryUrl) needs.add("registry");
  }
  // Scoring needs Kafka and PostgreSQL; without Redis it reads profiles from PostgreSQL.
  // So do the webhooks (their deliveries are held in PostgreSQL).
  if (parts.consumer || parts.webhooks) {
    needs.add("kafka");
    needs.add("postgres");
  }
  return [...needs];
}

async function registryAnswers(url: string): Promise<boolean> {
  if (url.startsWith("mock://")) return true;
  try {
    const res = await fetch(new URL("subjects", url.endsWith("/") ? url : `${url}/`), {
      signal: AbortSignal.timeout(1_000),
    });
    return res.ok;
  } catch {
    return false;
  }
}

export async function createRuntime(
  config: Config,
  logger: Logger,
  metrics = createMetrics(),
): Promise<Runtime> {
  // The producer connects (in the background) while PostgreSQL is reached: a restarted consumer
  // is back in its group sooner (a static member must be back within its session timeout).
  const kafka = createKafka({
    brokers: config.kafka.brokers,
    clientId: config.kafka.clientId,
    logger,
    security: config.kafka.security,
  });
  const producer = createManagedProducer(kafka, logger, { requestTimeoutMs: config.producer.timeoutMs });
  let pool: DatabasePool;
  try {
    pool = await createDatabasePoolWhenReachable(
      config.database.url,
      { maxPoolSize: config.database.poolSize },
      { timeoutMs: 60_000, logger },
    );
  } catch (error) {
    await producer.close().catch(() => {});
    throw error;
  }
  const redis = createRedisClient(config.redis.url, logger, config.redis.caFile);
  const profiles = createProfileStore({ pool });
  const transactions = createTransactionStore({ pool });
  const profileCache = createProfileCache({
    redis,
    store: profiles,
    keyPrefix: config.redis.keyPrefix,
    ttlSeconds: config.cache.ttlSeconds,
    negativeTtlSeconds: config.cache.negativeTtlSeconds,
    metrics: metrics.cache,
    logger,
  });
  const registryUrl = config.kafka.schemaRegistryUrl;
  let client: Promise<RegistryClient> | undefined;
  const registry = () => {
    if (!registryUrl) return Promise.resolve(undefined);
    client ??= import("./kafka/schema-registry.ts").then((m) =>
      m.createRegistryClient(registryUrl, config.kafka.schemaRegistry),
    );
    return client;
  };
  let ids: Promise<TransactionSchemaIds> | undefined;
  return {
    config,
    logger,
    metrics,
    pool,
    redis,
    kafka,
    producer,
    profiles,
    transactions,
    profileCache,
    registry,
    schemaIds() {
      if (!registryUrl) return Promise.resolve(undefined);
      ids ??= Promise.all([import("./kafka/schema-registry.ts"), registry()]).then(([m, c]) =>
        m.transactionSchemaIds(c!, config.kafka.topics.transactions),
      );
      return ids;
    },
    async readiness(needs) {
      const probes: Record<Dependency, () => Promise<boolean>> = {
        kafka: async () => producer.connected,
        postgres: () => pingDatabase(pool),
        redis: () =>
          redis
            .ping()
            .then((r) => r === "PONG")
            .catch(() => false),
        registry: () => (registryUrl ? registryAnswers(registryUrl) : Promise.resolve(true)),
      };
      const results = await Promise.all(needs.map((n) => probes[n]()));
      return Object.fromEntries(needs.map((n, i) => [n, results[i]!]));
    },
    async close() {
      await producer
        .close()
        .catch((error: unknown) => logger.warn({ err: (error as Error).message }, "producer close"));
      redis.disconnect();
      await pool.end();
    },
  };
}

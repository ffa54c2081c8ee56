import type { TestProject } from "vitest/node";
import { loadConfig } from "../src/config.ts";
import { createLogger } from "../src/logger.ts";
import { brokerPaths, runningPid, stopBroker } from "../src/stack/kafka-broker.ts";
import { registryPaths, registryPid, stopRegistry } from "../src/stack/registry-server.ts";
import { stackUp, startRegistryIfNeeded } from "../src/stack/stack.ts";

/*
 * Resolves the services the integration tests talk to, in this order:
 *   1. environment variables (KAFKA_BROKERS, DATABASE_URL, REDIS_URL all set): use them;
 *   2. a reachable Docker engine: testcontainers (Kafka, PostgreSQL, Redis modules);
 *   3. otherwise the local stack (Kafka from jars, the machine's PostgreSQL and Redis), started
 *      here if it is not running, and stopped again afterwards if we started it.
 * Tests get the URLs through inject("services") and isolate themselves inside them.
 */

export type Services = {
  kafkaBrokers: string;
  databaseUrl: string;
  redisUrl: string;
  /** A Confluent-compatible Schema Registry, when one could be had (tests fall back to mock://). */
  schemaRegistryUrl?: string;
  source: string;
};

declare module "vitest" {
  interface ProvidedContext {
    services: Services;
  }
}

async function dockerAvailable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import("testcontainers");
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function fromContainers(): Promise<{ services: Services; stop: () => Promise<void> }> {
  const [{ KafkaContainer }, { PostgreSqlContainer }, { RedisContainer }] = await Promise.all([
    import("@testcontainers/kafka"),
    import("@testcontainers/postgresql"),
    import("@testcontainers/redis"),
  ]);
  const [kafka, pg, redis] = await Promise.all([
    new KafkaContainer("confluentinc/cp-kafka:7.9.0").withKraft().start(),
    new PostgreSqlContainer("postgres:15").withUsername("postgres").withPassword("postgres").start(),
    new RedisContainer("redis:7").start(),
  ]);
  const pgUrl = new URL(pg.getConnectionUri());
  pgUrl.pathname = "/sentinel";
  return {
    services: {
      kafkaBrokers: `${kafka.getHost()}:${kafka.getMappedPort(9093)}`,
      databaseUrl: pgUrl.toString(),
      redisUrl: redis.getConnectionUrl(),
      source: "testcontainers",
    },
    stop: async () => {
      await Promise.all([kafka.stop(), pg.stop(), redis.stop()]);
    },
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const env = process.env;
  const logger = createLogger({ log: { level: "info", pretty: false } }, "test-setup");
  let teardown = async () => {};
  let services: Services;

  if (env.KAFKA_BROKERS && env.DATABASE_URL && env.REDIS_URL) {
    services = {
      kafkaBrokers: env.KAFKA_BROKERS,
      databaseUrl: env.DATABASE_URL,
      redisUrl: env.REDIS_URL,
      schemaRegistryUrl: env.SCHEMA_REGISTRY_URL || undefined,
      source: "environment",
    };
  } else if (await dockerAvailable()) {
    const started = await fromContainers();
    services = started.services;
    teardown = started.stop;
  } else {
    const config = loadConfig(env);
    const paths = brokerPaths(config.stackDir);
    const wasRunning = runningPid(paths) !== undefined;
    await stackUp(config, logger);
    // The Schema Registry (Apicurio from Maven Central) is started too; if it cannot be built or
    // started, the tests that need a real one are skipped (visible in the skipped count) and the
    // rest use the library's in-memory registry.
    const registryWasOurs = registryPid(registryPaths(config.stackDir)) !== undefined;
    let schemaRegistryUrl: string | undefined;
    try {
      schemaRegistryUrl = await startRegistryIfNeeded(logger, config.stackDir);
    } catch (error) {
      logger.error({ err: (error as Error).message }, "no schema registry: its tests will be skipped");
    }
    services = {
      kafkaBrokers: config.kafka.brokers.join(","),
      databaseUrl: config.database.url,
      redisUrl: config.redis.url,
      schemaRegistryUrl,
      source: "local stack",
    };
    const startedKafka = !wasRunning && runningPid(paths) !== undefined;
    const startedRegistry = !registryWasOurs && registryPid(registryPaths(config.stackDir)) !== undefined;
    teardown = async () => {
      if (startedKafka) await stopBroker(paths);
      if (startedRegistry) await stopRegistry(registryPaths(config.stackDir));
    };
  }
  logger.info({ services }, "integration tests use these services");
  project.provide("services", services);
  return teardown;
}

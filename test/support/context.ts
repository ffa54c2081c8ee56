import type { Kafka } from "kafkajs";
import pg from "pg";
import { inject } from "vitest";
import type { Config } from "../../src/config.ts";
import { createLogger, type Logger } from "../../src/logger.ts";
import { createSandbox } from "../../src/stack/sandbox.ts";

/*
 * Isolation for one integration test (or file): a sandbox (own database, topics, consumer group
 * and Redis key prefix) in the services the global setup resolved, removed by cleanup().
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
  const sandbox = await createSandbox(inject("services"), {
    prefix: "test",
    overrides: {
      NODE_ENV: "test",
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
      PORT: "0",
      HOST: "127.0.0.1",
      ...overrides,
    },
  });
  return { ...sandbox, logger: createLogger(sandbox.config, `test-${sandbox.id}`) };
}

/** A SQL client on the test's own database, for assertions. */
export async function sqlClient(config: Config): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: config.database.url });
  await client.connect();
  return client;
}

import type { TestProject } from "vitest/node";
import { loadConfig } from "../src/config.ts";
import { createLogger } from "../src/logger.ts";
import { runningPid } from "../src/stack/kafka-broker.ts";
import { secureBrokerPaths } from "../src/stack/secure-kafka.ts";
import { type SecureEnvironments, secureStackDown, secureStackUp } from "../src/stack/secure-stack.ts";

/*
 * The `secure` project's services (issue 34): the secured stack of `stack up --secure` — Kafka over
 * SASL_SSL with ACLs per process, PostgreSQL over TLS as the runtime role, Redis over TLS with an
 * ACL user — started here when it does not run yet, and stopped again afterwards if we started it.
 */

declare module "vitest" {
  interface ProvidedContext {
    secure: SecureEnvironments;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const config = loadConfig({ ...process.env, KAFKA_BROKERS: "", DATABASE_URL: "", REDIS_URL: "" });
  const logger = createLogger({ log: { level: "warn", pretty: false } }, "secure-setup");
  const wasRunning = runningPid(secureBrokerPaths(config.stackDir)) !== undefined;
  const envs = await secureStackUp(config, logger);
  project.provide("secure", envs);
  return async () => {
    if (!wasRunning) await secureStackDown(logger, config.stackDir);
  };
}

import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/logger.ts";
import type { Services } from "../../src/stack/sandbox.ts";
import { stackUp } from "../../src/stack/stack.ts";

/**
 * The services a benchmark runs against: those given by KAFKA_BROKERS, DATABASE_URL and REDIS_URL,
 * else the local stack (brought up if needed, left running).
 */
export async function benchServices(): Promise<Services> {
  const config = loadConfig();
  const env = process.env;
  if (!(env.KAFKA_BROKERS && env.DATABASE_URL && env.REDIS_URL)) {
    await stackUp(config, createLogger({ log: { level: "warn", pretty: false } }, "bench"));
  }
  return {
    kafkaBrokers: config.kafka.brokers.join(","),
    databaseUrl: config.database.url,
    redisUrl: config.redis.url,
  };
}

export function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

import { connect } from "node:net";
import { Redis } from "ioredis";
import type { Config } from "../config.ts";
import { withAdmin } from "../kafka/admin.ts";
import { createKafka } from "../kafka/client.ts";
import { ensureTopics } from "../kafka/topics.ts";
import type { Logger } from "../logger.ts";
import { pollUntil } from "../poll.ts";
import { prepareDatabase } from "../store/database.ts";
import {
  brokerPaths,
  ensureJars,
  formatStorage,
  runningPid,
  startBroker,
  stopBroker,
  writeBrokerProperties,
} from "./kafka-broker.ts";
import {
  ensureRegistryBuilt,
  registryPaths,
  registryPid,
  registryReachable,
  registryUrl,
  startRegistry,
  stopRegistry,
  waitForRegistry,
} from "./registry-server.ts";

/*
 * `npm run stack:up | stack:down | stack:status`: the local stack without Docker. Kafka is started
 * here (and only a Kafka started here is ever stopped); PostgreSQL and Redis are the machine's
 * running servers, which we only check, prepare (database, migrations) and never stop.
 */

function hostPort(broker: string): { host: string; port: number } {
  const i = broker.lastIndexOf(":");
  return { host: broker.slice(0, i), port: Number(broker.slice(i + 1)) };
}

export function portOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolvePromise(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Waits until kafkajs can describe the cluster. @throws after `timeoutMs`. */
export async function waitForKafka(
  brokers: readonly string[],
  logger: Logger,
  timeoutMs = 90_000,
): Promise<void> {
  const kafka = createKafka({
    brokers,
    clientId: "sentinel-stack",
    logger: logger.child({}, { level: "fatal" }),
  });
  await pollUntil(
    async () => {
      const cluster = await withAdmin(kafka, (admin) => admin.describeCluster(), { retry: { retries: 0 } });
      return cluster.brokers.length > 0 && cluster.controller !== null;
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

async function redisReachable(url: string): Promise<boolean> {
  const redis = new Redis(url, {
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
 * Brings the stack up; idempotent. Starts Kafka only when nothing listens on its port yet.
 * @throws when Kafka cannot be started or reached, or PostgreSQL cannot be prepared.
 */
export async function stackUp(
  config: Config,
  logger: Logger,
  dir = config.stackDir,
  { registry = false }: { registry?: boolean } = {},
): Promise<void> {
  const paths = brokerPaths(dir);
  const broker = config.kafka.brokers[0]!;
  const { host, port } = hostPort(broker);
  const pid = runningPid(paths);
  if (pid !== undefined) {
    logger.info({ pid, broker }, "kafka already running (started by this stack)");
  } else if (await portOpen(host, port)) {
    logger.info({ broker }, "a Kafka broker already listens there; using it (it is not ours to stop)");
  } else {
    if (!["127.0.0.1", "localhost"].includes(host)) {
      throw new Error(`KAFKA_BROKERS points at ${broker}: the local stack only starts a broker on 127.0.0.1`);
    }
    ensureJars(paths, (line) => logger.info(line));
    writeBrokerProperties(paths, port);
    formatStorage(paths);
    const started = startBroker(paths);
    logger.info({ pid: started, broker, logs: paths.logs }, "kafka starting");
  }
  const registryStarting = registry ? startRegistryIfNeeded(logger, dir) : undefined;
  await initialize(config, logger);
  if (registryStarting) await registryStarting;
}

/**
 * The local Schema Registry (Apicurio, src/stack/registry-server.ts): started unless one answers
 * already at 127.0.0.1:8081. Returns its Confluent-compatible URL once it answers.
 */
export async function startRegistryIfNeeded(logger: Logger, dir: string): Promise<string> {
  const paths = registryPaths(dir);
  const url = registryUrl();
  const pid = registryPid(paths);
  if (pid !== undefined) logger.info({ pid, url }, "schema registry already running (started by this stack)");
  else if (await registryReachable(url))
    logger.info({ url }, "a schema registry already answers there; using it");
  else {
    ensureRegistryBuilt(paths, (line) => logger.info(line));
    const started = startRegistry(paths);
    logger.info({ pid: started, url, logs: paths.logs }, "schema registry starting");
  }
  await waitForRegistry(url);
  logger.info({ url }, "schema registry ready (SCHEMA_REGISTRY_URL)");
  return url;
}

/**
 * What a fresh deployment needs once the services run: Kafka reachable and the topics created,
 * the database created and migrated, Redis checked. Idempotent (`sentinel init`, docker compose).
 * @throws when Kafka is not reachable in time or PostgreSQL cannot be prepared.
 */
export async function initialize(config: Config, logger: Logger): Promise<void> {
  await waitForKafka(config.kafka.brokers, logger);
  const kafka = createKafka({ brokers: config.kafka.brokers, clientId: "sentinel-init", logger });
  const created = await withAdmin(kafka, (admin) => ensureTopics(admin, config.kafka));
  logger.info({ created, topics: config.kafka.topics }, "kafka ready");
  const applied = await prepareDatabase(config, logger);
  logger.info({ applied }, "postgresql ready");
  if (await redisReachable(config.redis.url)) logger.info({ redis: config.redis.url }, "redis ready");
  else
    logger.warn(
      { redis: config.redis.url },
      "redis not reachable; scoring will read profiles from PostgreSQL",
    );
}

/** Stops only the Kafka this stack started (pid file); removes nothing else. */
export async function stackDown(logger: Logger, dir: string): Promise<void> {
  const stopped = await stopBroker(brokerPaths(dir));
  logger.info(stopped ? "kafka stopped" : "kafka was not running (nothing of ours to stop)");
  if (await stopRegistry(registryPaths(dir))) logger.info("schema registry stopped");
}

export type StackStatus = {
  kafka: { ours: number | null; reachable: boolean; broker: string };
  postgres: { reachable: boolean };
  redis: { reachable: boolean };
  registry: { ours: number | null; reachable: boolean; url: string };
};

export async function stackStatus(config: Config, dir = config.stackDir): Promise<StackStatus> {
  const broker = config.kafka.brokers[0]!;
  const { host, port } = hostPort(broker);
  const db = new URL(config.database.url);
  const url = registryUrl();
  const [kafkaUp, pgUp, redisUp, registryUp] = await Promise.all([
    portOpen(host, port),
    portOpen(db.hostname, Number(db.port || 5432)),
    redisReachable(config.redis.url),
    registryReachable(url),
  ]);
  return {
    kafka: { ours: runningPid(brokerPaths(dir)) ?? null, reachable: kafkaUp, broker },
    postgres: { reachable: pgUp },
    redis: { reachable: redisUp },
    registry: { ours: registryPid(registryPaths(dir)) ?? null, reachable: registryUp, url },
  };
}

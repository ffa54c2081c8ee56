import { connect } from "node:net";
import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";
import { pollUntil } from "../poll.ts";
import { initialize, redisReachable, waitForKafka } from "./initialize.ts";
import {
  brokerPaths,
  clusterId,
  ensureJars,
  formatStorage,
  formattedClusterId,
  nodePorts,
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

/** The largest local cluster `stack up --brokers` starts. */
export const MAX_LOCAL_BROKERS = 5;

/**
 * Brings the stack up; idempotent. Starts Kafka only when nothing listens on its port yet: one
 * broker, or with `brokers` > 1 a local cluster of that many KRaft nodes (ports from the first of
 * KAFKA_BROKERS on, two apart), whose topics `init` creates replicated (src/kafka/topics.ts).
 * @throws when Kafka cannot be started or reached, or PostgreSQL cannot be prepared.
 */
export async function stackUp(
  config: Config,
  logger: Logger,
  dir = config.stackDir,
  { registry = false, brokers = 1 }: { registry?: boolean; brokers?: number } = {},
): Promise<readonly string[]> {
  const { host, port } = hostPort(config.kafka.brokers[0]!);
  if (!["127.0.0.1", "localhost"].includes(host) && brokers > 1) {
    throw new Error(`KAFKA_BROKERS points at ${host}: the local stack only starts brokers on 127.0.0.1`);
  }
  const addresses =
    brokers > 1 ? await startCluster(logger, dir, port, brokers) : await startSingle(config, logger, dir);
  // Every node registered and listening before the topics are created with their replicas (a
  // KRaft broker registers with the controllers before it opens its listener).
  if (brokers > 1) await waitForCluster(addresses, logger);
  const registryStarting = registry ? startRegistryIfNeeded(logger, dir) : undefined;
  await initialize({ ...config, kafka: { ...config.kafka, brokers: addresses } }, logger);
  if (registryStarting) await registryStarting;
  if (brokers > 1)
    logger.info({ brokers: addresses }, `cluster ready: export KAFKA_BROKERS=${addresses.join(",")}`);
  return addresses;
}

async function startSingle(config: Config, logger: Logger, dir: string): Promise<readonly string[]> {
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
  return config.kafka.brokers;
}

/** Waits (bounded) until every node is registered with the cluster and accepts connections. */
async function waitForCluster(addresses: readonly string[], logger: Logger): Promise<void> {
  await waitForKafka(addresses, logger, 120_000, addresses.length);
  for (const address of addresses) {
    const { host, port } = hostPort(address);
    await pollUntil(() => portOpen(host, port), {
      timeoutMs: 120_000,
      everyMs: 250,
      onTimeout: () => {
        throw new Error(`kafka node ${address} registered but does not listen after 120 s`);
      },
    });
  }
}

/** Starts the nodes of a local cluster that are not running yet; the addresses of all of them. */
async function startCluster(logger: Logger, dir: string, basePort: number, size: number): Promise<string[]> {
  if (!Number.isInteger(size) || size < 2 || size > MAX_LOCAL_BROKERS)
    throw new Error(`--brokers must be 1 to ${MAX_LOCAL_BROKERS}`);
  const nodes = Array.from({ length: size }, (_, i) => i + 1);
  const voters = nodes.map((nodeId) => ({
    nodeId,
    controllerPort: nodePorts(basePort, nodeId).controllerPort,
  }));
  // One cluster id for every node: an already formatted node's, else a new one.
  const id =
    nodes.map((n) => formattedClusterId(brokerPaths(dir, n))).find((x) => x !== undefined) ?? clusterId();
  for (const nodeId of nodes) {
    const paths = brokerPaths(dir, nodeId);
    const { port } = nodePorts(basePort, nodeId);
    const pid = runningPid(paths);
    if (pid !== undefined) {
      logger.info({ pid, nodeId, port }, "kafka node already running (started by this stack)");
      continue;
    }
    if (await portOpen("127.0.0.1", port)) {
      throw new Error(`127.0.0.1:${port} is taken by something this stack did not start: stop it first`);
    }
    ensureJars(paths, (line) => logger.info(line));
    writeBrokerProperties(paths, port, { nodeId, voters });
    formatStorage(paths, id);
    const started = startBroker(paths, "512m");
    logger.info({ pid: started, nodeId, port, logs: paths.logs }, "kafka node starting");
  }
  return nodes.map((n) => `127.0.0.1:${nodePorts(basePort, n).port}`);
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

/** Stops only the Kafka this stack started (pid files: the single broker and any cluster node). */
export async function stackDown(logger: Logger, dir: string): Promise<void> {
  const stopped = await stopBroker(brokerPaths(dir));
  const nodes = await Promise.all(
    Array.from({ length: MAX_LOCAL_BROKERS }, (_, i) => stopBroker(brokerPaths(dir, i + 1))),
  );
  const nodesStopped = nodes.filter(Boolean).length;
  if (nodesStopped > 0) logger.info({ nodes: nodesStopped }, "kafka cluster nodes stopped");
  logger.info(
    stopped || nodesStopped > 0 ? "kafka stopped" : "kafka was not running (nothing of ours to stop)",
  );
  if (await stopRegistry(registryPaths(dir))) logger.info("schema registry stopped");
}

export type StackStatus = {
  kafka: { ours: number | null; reachable: boolean; broker: string };
  /** The nodes of a local cluster this stack started (none for the single broker). */
  nodes: Array<{ nodeId: number; broker: string; ours: number; reachable: boolean }>;
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
    redisReachable(config.redis.url, config.redis.caFile),
    registryReachable(url),
  ]);
  const nodes = [];
  for (let nodeId = 1; nodeId <= MAX_LOCAL_BROKERS; nodeId++) {
    const pid = runningPid(brokerPaths(dir, nodeId));
    if (pid === undefined) continue;
    const { port: nodePort } = nodePorts(port, nodeId);
    nodes.push({
      nodeId,
      broker: `${host}:${nodePort}`,
      ours: pid,
      reachable: await portOpen(host, nodePort),
    });
  }
  return {
    kafka: { ours: runningPid(brokerPaths(dir)) ?? null, reachable: kafkaUp, broker },
    nodes,
    postgres: { reachable: pgUp },
    redis: { reachable: redisUp },
    registry: { ours: registryPid(registryPaths(dir)) ?? null, reachable: registryUp, url },
  };
}

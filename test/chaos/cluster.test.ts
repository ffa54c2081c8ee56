import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Partitioners } from "kafkajs";
import pg from "pg";
import { afterAll, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { withAdmin } from "../../src/kafka/admin.ts";
import { createKafka } from "../../src/kafka/client.ts";
import { createLogger } from "../../src/logger.ts";
import { brokerPaths, ensureJars, runningPid } from "../../src/stack/kafka-broker.ts";
import { stackDown, stackStatus, stackUp } from "../../src/stack/stack.ts";
import { freePorts } from "../support/ports.ts";
import { readAll } from "../support/topics.ts";

/*
 * Issue 22, the cluster from the same jars: `stack up --brokers 3` starts three KRaft nodes, `init`
 * creates the topics with three replicas and min.insync.replicas=2, a write with acks=all survives
 * one node's SIGKILL, `stack status` shows each node and `stack down` stops them. Its own stack
 * directory and ports (the jars shared); PostgreSQL is the machine's, in a database of its own.
 * In the chaos project: three JVMs load both cores while they start.
 */

const dir = mkdtempSync(join(tmpdir(), "sentinel-cluster-"));
const id = Math.random().toString(36).slice(2, 8);
const database = `sentinel_cluster_${id}`;
afterAll(async () => {
  await stackDown(createLogger({ log: { level: "fatal", pretty: false } }), dir);
  rmSync(dir, { recursive: true, force: true });
  const admin = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/postgres" });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
});

it("runs three brokers with replicated topics; a write with acks=all survives its leader's SIGKILL", async () => {
  const shared = brokerPaths(loadConfig().stackDir);
  ensureJars(shared, () => {});
  mkdirSync(join(dir, "kafka"), { recursive: true });
  symlinkSync(shared.lib, join(dir, "kafka", "lib"));
  const base = await freePorts(6); // three brokers and their controllers, consecutive
  const config = loadConfig({
    KAFKA_BROKERS: `127.0.0.1:${base}`,
    SENTINEL_STACK_DIR: dir,
    DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
    TOPIC_TRANSACTIONS: `cluster-${id}`,
    TOPIC_DECISIONS: `cluster-${id}.decisions`,
    TOPIC_DLQ: `cluster-${id}.dlq`,
    TOPIC_LABELS: `cluster-${id}.labels`,
    TOPIC_EVENTS: `cluster-${id}.events`,
    TOPIC_TRANSACTIONS_PARTITIONS: "3",
    LOG_LEVEL: "fatal",
  });
  const logger = createLogger(config);
  const brokers = await stackUp(config, logger, dir, { brokers: 3 });
  expect(brokers).toEqual([`127.0.0.1:${base}`, `127.0.0.1:${base + 2}`, `127.0.0.1:${base + 4}`]);

  const status = await stackStatus(config, dir);
  expect(status.nodes.map((n) => [n.nodeId, n.reachable])).toEqual([
    [1, true],
    [2, true],
    [3, true],
  ]);

  const kafka = createKafka({ brokers, clientId: `cluster-test-${id}`, logger });
  const topic = config.kafka.topics.transactions;
  const described = await withAdmin(kafka, async (admin) => ({
    meta: await admin.fetchTopicMetadata({ topics: [topic] }),
    configs: await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2, name: topic, configNames: ["min.insync.replicas"] }],
    }),
  }));
  for (const p of described.meta.topics[0]!.partitions) expect(p.replicas).toHaveLength(3);
  expect(described.configs.resources[0]!.configEntries[0]!.configValue).toBe("2");

  // One node SIGKILLed — the leader of partition 0 — while each send spans every partition (one
  // request per leader): with two of three replicas in sync, writes with acks=all go on, and none
  // is acknowledged unwritten. kafkajs 2.2.4 itself (tulios/kafkajs#1303) resolved the first such
  // send without writing partition 0's message: its retry went only to brokers that had not
  // answered, and partition 0's new leader had (patches/kafkajs+2.2.4+002+send-messages-per-partition.patch).
  const leaders = new Map(described.meta.topics[0]!.partitions.map((p) => [p.partitionId, p.leader]));
  const victimNode = leaders.get(0)!;
  expect([...leaders.values()].some((leader) => leader !== victimNode)).toBe(true);
  process.kill(runningPid(brokerPaths(dir, victimNode))!, "SIGKILL");
  // Retried long enough for the controllers to fence the dead node (broker.session.timeout.ms,
  // 3 s) and move its partitions' leadership: kafkajs's default budget ran out first once in CI.
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    maxInFlightRequests: 1,
    retry: { retries: 15, initialRetryTime: 300, maxRetryTime: 3_000 },
  });
  await producer.connect();
  try {
    for (let i = 0; i < 30; i++) {
      const messages = [0, 1, 2].map((partition) => ({ partition, value: `after-kill-${i}-${partition}` }));
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
  const values = (await readAll(kafka, topic, 60_000)).map((m) => m.value?.toString());
  expect(new Set(values.filter((v) => v?.startsWith("after-kill-"))).size).toBe(90);
}, 240_000);

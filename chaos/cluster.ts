import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Kafka } from "kafkajs";
import { loadConfig } from "../src/config.ts";
import { withAdmin } from "../src/kafka/admin.ts";
import { createLogger } from "../src/logger.ts";
import { waitForKafka } from "../src/stack/initialize.ts";
import { brokerPaths, ensureJars, runningPid, startBroker } from "../src/stack/kafka-broker.ts";
import { stackDown, stackUp } from "../src/stack/stack.ts";
import { freePorts } from "../test/support/ports.ts";
import type { ClusterControl } from "./types.ts";

/*
 * A KRaft cluster of its own for a chaos run (issue 22): `size` nodes from the stack's jars, in a
 * directory and on ports of their own, stopped and removed afterwards. Its control kills a node,
 * starts it again, and finds the node that leads most of a topic's partitions and the active
 * controller (Kafka's own MetadataQuorumCommand, from the same jars).
 */

const run = promisify(execFile);

export type ChaosCluster = { brokers: string[]; control: ClusterControl; stop(): Promise<void> };

export async function startChaosCluster(size: number): Promise<ChaosCluster> {
  const shared = brokerPaths(loadConfig().stackDir);
  const quiet = createLogger({ log: { level: "fatal", pretty: false } });
  ensureJars(shared, () => {});
  const dir = mkdtempSync(join(tmpdir(), "sentinel-chaos-cluster-"));
  mkdirSync(join(dir, "kafka"), { recursive: true });
  symlinkSync(shared.lib, join(dir, "kafka", "lib"));
  const base = await freePorts(2 * size); // each node and its controller listener, consecutive
  const config = loadConfig({
    KAFKA_BROKERS: `127.0.0.1:${base}`,
    SENTINEL_STACK_DIR: dir,
    LOG_LEVEL: "fatal",
  });
  const brokers = [...(await stackUp(config, quiet, dir, { brokers: size }))];
  const nodes = Array.from({ length: size }, (_, i) => i + 1);
  const control: ClusterControl = {
    nodes,
    kill(node) {
      const pid = runningPid(brokerPaths(dir, node));
      if (pid !== undefined) process.kill(pid, "SIGKILL");
    },
    async start(node) {
      startBroker(brokerPaths(dir, node));
      await waitForKafka(brokers, quiet, 120_000, size);
    },
    async leaderOf(kafka: Kafka, topic: string) {
      const meta = await withAdmin(kafka, (a) => a.fetchTopicMetadata({ topics: [topic] }), {
        retry: { retries: 2 },
      });
      const counts = new Map<number, number>();
      for (const p of meta.topics[0]?.partitions ?? []) counts.set(p.leader, (counts.get(p.leader) ?? 0) + 1);
      return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? nodes[0]!;
    },
    async activeController() {
      const alive = brokers.filter((_, i) => runningPid(brokerPaths(dir, i + 1)) !== undefined);
      const { stdout } = await run(
        "java",
        [
          "-Xmx256m",
          "-cp",
          `${shared.lib}/*`,
          "org.apache.kafka.tools.MetadataQuorumCommand",
          "--bootstrap-server",
          alive.join(","),
          "describe",
          "--status",
        ],
        { timeout: 60_000 },
      );
      const m = /LeaderId:\s+(\d+)/.exec(stdout);
      return m ? Number(m[1]) : undefined;
    },
  };
  return {
    brokers,
    control,
    async stop() {
      await stackDown(quiet, dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

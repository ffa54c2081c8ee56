import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import autocannon from "autocannon";
import { Partitioners } from "kafkajs";
import { startChaosCluster } from "../chaos/cluster.ts";
import { withAdmin } from "../src/kafka/admin.ts";
import { describeOffsets } from "../src/kafka/offsets.ts";
import { REPO_ROOT } from "../src/paths.ts";
import { createSandbox, type Services } from "../src/stack/sandbox.ts";
import { freePorts } from "../test/support/ports.ts";
import { startNode, waitForHttp } from "../test/support/processes.ts";
import { BODY } from "./lib/http-load.ts";
import { benchServices, log } from "./lib/services.ts";

/*
 * `npm run bench:scale-out [-- --quick]` (issue 22): on a three-broker cluster of its own, the
 * scorer's throughput with 1, 2 and 3 `sentinel consume` processes (each on a fresh sandbox:
 * N transactions preloaded, from the group's first commit to its last) and the ingress's with 1
 * and 2 `sentinel ingest` processes (autocannon against each, 200 connections, side by side, 10 s). One 2-core box
 * runs all of it — the brokers, PostgreSQL, Redis and the load — so the figures say what adding
 * processes buys here, not on a machine per process.
 */

const BIN = join(REPO_ROOT, "bin/sentinel.ts");

async function preload(services: Services, n: number) {
  const sandbox = await createSandbox(services, { prefix: "bench" });
  const producer = sandbox.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  for (let i = 0; i < n; i += 1_000) {
    await producer.send({
      topic: sandbox.config.kafka.topics.transactions,
      acks: -1,
      messages: Array.from({ length: Math.min(1_000, n - i) }, (_, j) => {
        const user = `scale-${(i + j) % 10_000}`;
        const tx = {
          transaction_id: randomUUID(),
          user_id: user,
          amount: "12.50",
          currency: "USD",
          country: "US",
        };
        return { key: user, value: JSON.stringify(tx) };
      }),
    });
  }
  await producer.disconnect();
  return sandbox;
}

/** Transactions per second of `processes` consumers over `n` preloaded ones (first commit → all committed). */
async function scorer(services: Services, processes: number, n: number): Promise<number> {
  const sandbox = await preload(services, n);
  const procs = Array.from({ length: processes }, () =>
    startNode(BIN, ["consume"], { ...sandbox.env, LOG_LEVEL: "warn" }),
  );
  try {
    const topic = sandbox.config.kafka.topics.transactions;
    const committed = () =>
      withAdmin(sandbox.kafka, (a) => describeOffsets(a, sandbox.config.consumer.group, topic)).then((g) =>
        g.partitions.reduce((s, p) => s + Number(p.committed ?? p.low), 0),
      );
    let first: { at: number; count: number } | undefined;
    const deadline = Date.now() + 600_000;
    for (;;) {
      const count = await committed().catch(() => 0);
      if (!first && count > 0) first = { at: performance.now(), count };
      if (count >= n && first) return Math.round((n - first.count) / ((performance.now() - first.at) / 1000));
      if (Date.now() > deadline) throw new Error(`${processes} consumers: ${count}/${n} after 10 min`);
      await sleep(200);
    }
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await sandbox.cleanup();
  }
}

/** Requests per second of `processes` ingress processes, each loaded by its own autocannon. */
async function ingest(services: Services, processes: number, seconds: number): Promise<number> {
  const sandbox = await createSandbox(services, { prefix: "bench" });
  const ports = await Promise.all(Array.from({ length: processes }, () => freePorts()));
  const procs = ports.map((port) =>
    startNode(BIN, ["ingest"], { ...sandbox.env, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn" }),
  );
  try {
    await Promise.all(ports.map((port) => waitForHttp(`http://127.0.0.1:${port}/readyz`)));
    const results = await Promise.all(
      ports.map(
        (port) =>
          new Promise<number>((resolve, reject) =>
            autocannon(
              {
                url: `http://127.0.0.1:${port}/transaction`,
                method: "POST",
                headers: { "content-type": "application/json" },
                body: BODY,
                idReplacement: true,
                connections: 200,
                duration: seconds,
              },
              (error, r) =>
                error
                  ? reject(error)
                  : resolve(r.requests.average * (1 - r.non2xx / Math.max(1, r.requests.total))),
            ),
          ),
      ),
    );
    return Math.round(results.reduce((a, b) => a + b, 0));
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await sandbox.cleanup();
  }
}

const quick = process.argv.includes("--quick");
const n = quick ? 30_000 : 100_000;
const cluster = await startChaosCluster(3);
try {
  const services = { ...(await benchServices()), kafkaBrokers: cluster.brokers.join(",") };
  const lines: Record<string, number> = {};
  for (const k of [1, 2, 3]) {
    lines[`scale_scorer_tx_per_sec_${k}`] = await scorer(services, k, n);
    log(`${k} consume process(es): ${lines[`scale_scorer_tx_per_sec_${k}`]} tx/s over ${n}`);
  }
  for (const k of [1, 2]) {
    lines[`scale_ingest_rps_${k}`] = await ingest(services, k, quick ? 5 : 10);
    log(`${k} ingest process(es): ${lines[`scale_ingest_rps_${k}`]} accepted requests/s`);
  }
  for (const [k, v] of Object.entries(lines)) console.log(`${k}=${v}`);
} finally {
  await cluster.stop();
}

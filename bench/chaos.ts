import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Partitioners } from "kafkajs";
import pg from "pg";
import { prng, seedProfiles } from "../src/cli/seed.ts";
import { loadConfig } from "../src/config.ts";
import { withAdmin } from "../src/kafka/admin.ts";
import { createLogger } from "../src/logger.ts";
import { REPO_ROOT } from "../src/paths.ts";
import { pollUntil } from "../src/poll.ts";
import { brokerPaths, runningPid, startBroker } from "../src/stack/kafka-broker.ts";
import { createSandbox } from "../src/stack/sandbox.ts";
import { waitForKafka } from "../src/stack/stack.ts";
import { createDatabasePool } from "../src/store/pool.ts";
import { createProfileStore } from "../src/store/profile-store.ts";
import {
  DEFAULT_SETTINGS,
  type OracleProfile,
  type OracleTx,
  oracleDecideAll,
} from "../test/support/oracle.ts";
import { startTcpProxy } from "../test/support/tcp-proxy.ts";
import { readAll } from "../test/support/topics.ts";
import { type Proc, startNode, waitForHttp } from "./lib/processes.ts";
import { benchServices, log } from "./lib/services.ts";

/*
 * `npm run chaos [-- --quick] [-- --seed S]` (issue 15, first part): the pipeline under combined
 * faults with an independent checker. Two `sentinel ingest` and three `sentinel consume` processes
 * on a sandbox of their own, PostgreSQL and Redis behind TCP proxies the harness cuts; load over
 * HTTP to both ingress processes (a client that retries 503 and connection errors with the same
 * transaction_id), 10% straight to Kafka, poison of every reason, profile rewrites and fuzzed
 * bodies; faults on a seeded schedule: consumers and an ingress SIGKILLed and restarted, the broker
 * SIGKILLed and restarted (when the local stack started it), PostgreSQL and Redis cut. The checker
 * reads PostgreSQL and the topics itself and compares every decision with the test oracle.
 */

const argv = process.argv;
const quick = argv.includes("--quick");
const seed = argv.includes("--seed") ? Number(argv[argv.indexOf("--seed") + 1]) : 15;
const TOTAL = quick ? 10_000 : 100_000;
const USERS = 5_000;
const RATE = quick ? 400 : 800;
const FUZZ = quick ? 1_000 : 10_000;
const CUT_MS = 10_000;
/** At most this many requests in flight: during the broker's absence the load queues, not the sockets. */
const MAX_IN_FLIGHT = 1_000;

type Fault = { at: number; name: string };

async function main(): Promise<number> {
  const rand = prng(seed);
  const services = await benchServices();
  const sandbox = await createSandbox(services, {
    prefix: "chaos",
    overrides: { TOPIC_TRANSACTIONS_PARTITIONS: "6" },
  });
  const db = new pg.Client({ connectionString: sandbox.config.database.url });
  await db.connect();
  const started = Date.now();
  const faults: Fault[] = [];
  const fault = (name: string) => {
    faults.push({ at: Date.now() - started, name });
    log(`fault: ${name}`);
  };
  const procs: Proc[] = [];
  try {
    const pool = await createDatabasePool(sandbox.config.database.url, { maxPoolSize: 2 });
    await seedProfiles(createProfileStore({ pool }), { users: USERS, progress: false, seed });
    await pool.end();
    const pgUrl = new URL(sandbox.config.database.url);
    const pgProxy = await startTcpProxy(pgUrl.hostname, Number(pgUrl.port || 5432));
    const redisUrl = new URL(sandbox.config.redis.url);
    const redisProxy = await startTcpProxy(redisUrl.hostname, Number(redisUrl.port || 6379));
    const viaPg = new URL(sandbox.config.database.url);
    viaPg.port = String(pgProxy.port);
    const env = {
      ...sandbox.env,
      DATABASE_URL: viaPg.toString(),
      REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`,
      LOG_LEVEL: "warn",
      HOST: "127.0.0.1",
    };
    const bin = join(REPO_ROOT, "bin/sentinel.ts");
    const ports = [18_201, 18_202];
    const ingest = ports.map((port) => startNode(bin, ["ingest"], { ...env, PORT: String(port) }));
    const consumers = [0, 1, 2].map(() => startNode(bin, ["consume"], env));
    procs.push(...ingest, ...consumers);
    for (const port of ports) await waitForHttp(`http://127.0.0.1:${port}/readyz`, 60_000);
    await sleep(5_000); // the consumers join their group

    // ---- load ----
    const accepted = new Set<string>();
    let http5xx = 0;
    let sent = 0;
    let fuzzSent = 0;
    const users = [...Array(USERS)].map((_, i) => `user-${String(i + 1).padStart(7, "0")}`);
    const body = (id: string) => ({
      transaction_id: id,
      user_id: users[Math.floor(rand() * users.length)]!,
      amount: `${1 + Math.floor(rand() * 300)}.${String(Math.floor(rand() * 100)).padStart(2, "0")}`,
      currency: "USD",
      country: rand() < 0.9 ? "US" : "FR",
    });
    const post = async (b: object, tries = 40): Promise<void> => {
      for (let t = 0; t < tries; t++) {
        const port = ports[(t + sent) % 2]!;
        try {
          const res = await fetch(`http://127.0.0.1:${port}/transaction`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(b),
            signal: AbortSignal.timeout(5_000),
          });
          await res.arrayBuffer();
          if (res.status === 202 || res.status === 200) {
            accepted.add((b as { transaction_id: string }).transaction_id);
            return;
          }
          if (res.status >= 500 && res.status !== 503) http5xx++;
          if (res.status !== 503) return;
        } catch {
          // connection refused (a killed ingress) or timed out: the same id again
        }
        await sleep(250);
      }
    };
    const producer = sandbox.kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const direct: OracleTx[] = [];
    const directIds = new Set<string>();
    const topic = sandbox.config.kafka.topics.transactions;
    const inflight = new Set<Promise<void>>();

    const schedule: Array<[number, () => Promise<void> | void]> = [];
    const kill = (p: Proc, name: string, restart: () => Proc) => async () => {
      p.child.kill("SIGKILL");
      fault(`SIGKILL ${name}`);
      await sleep(2_000);
      procs.push(restart());
    };
    const jitter = () => 0.9 + rand() * 0.2;
    schedule.push([
      0.15 * jitter(),
      kill(consumers[0]!, "consumer 1", () => startNode(bin, ["consume"], env)),
    ]);
    schedule.push([
      0.25 * jitter(),
      async () => {
        pgProxy.down();
        fault("PostgreSQL cut");
        await sleep(CUT_MS);
        pgProxy.up();
        fault("PostgreSQL back");
      },
    ]);
    schedule.push([
      0.4 * jitter(),
      kill(consumers[1]!, "consumer 2", () => startNode(bin, ["consume"], env)),
    ]);
    schedule.push([
      0.45 * jitter(),
      async () => {
        redisProxy.down();
        fault("Redis cut");
        await sleep(CUT_MS);
        redisProxy.up();
        fault("Redis back");
      },
    ]);
    schedule.push([
      0.55 * jitter(),
      kill(ingest[0]!, "ingest 1", () => startNode(bin, ["ingest"], { ...env, PORT: String(ports[0]) })),
    ]);
    let brokerRestartedAt = 0;
    schedule.push([
      0.65 * jitter(),
      async () => {
        const paths = brokerPaths(loadConfig().stackDir);
        const pid = runningPid(paths);
        if (pid === undefined) {
          fault("broker restart skipped (not started by the local stack)");
          return;
        }
        process.kill(pid, "SIGKILL");
        fault("SIGKILL broker");
        await sleep(2_000);
        startBroker(paths);
        await waitForKafka(
          sandbox.config.kafka.brokers,
          createLogger({ log: { level: "fatal", pretty: false } }),
          120_000,
        );
        brokerRestartedAt = Date.now();
        fault("broker back");
      },
    ]);
    schedule.push([
      0.8 * jitter(),
      kill(consumers[2]!, "consumer 3", () => startNode(bin, ["consume"], env)),
    ]);
    schedule.sort((a, b) => a[0] - b[0]);

    // Profile rewrites (same values: a new version, the cached copy replaced) every 500 ms.
    const { rows: current } = await db.query(
      "SELECT user_id, status, risk_tier, home_country, currency, per_transaction_limit::text, daily_limit::text FROM user_profiles",
    );
    let rewrites = 0;
    const rewriter = setInterval(() => {
      const p = current[Math.floor(rand() * current.length)];
      const { user_id, ...profile } = p;
      rewrites++;
      void fetch(`http://127.0.0.1:${ports[rewrites % 2]}/users/${user_id}/profile`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(profile),
      }).then(
        async (r) => {
          await r.arrayBuffer();
          if (r.status >= 500 && r.status !== 503) http5xx++;
        },
        () => {},
      );
    }, 500);
    /** The group's lag on the transactions topic now, and the most seen so far. */
    let maxLag = 0;
    const lagNow = async () => {
      const [ends, committed] = await withAdmin(
        sandbox.kafka,
        async (a) =>
          [
            await a.fetchTopicOffsets(topic),
            (await a.fetchOffsets({ groupId: sandbox.config.consumer.group, topics: [topic] }))[0]!
              .partitions,
          ] as const,
      );
      const lag = ends.reduce((n, e) => {
        const c = committed.find((x) => x.partition === e.partition);
        return n + Math.max(0, Number(e.high) - Math.max(0, Number(c?.offset ?? 0)));
      }, 0);
      maxLag = Math.max(maxLag, lag);
      return lag;
    };
    const duration = (TOTAL / RATE) * 1000;
    let nextFault = 0;
    const faultRuns: Array<Promise<void> | void> = [];
    let recoveryS = Number.NaN;
    const progress = setInterval(() => {
      log(
        `load: ${sent}/${TOTAL} sent, ${accepted.size} accepted, faults ${faults.length}, in flight ${inflight.size}`,
      );
    }, 5_000);
    const t0 = Date.now();
    for (let i = 0; i < TOTAL; i++) {
      const due = t0 + (i / RATE) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      while (inflight.size >= MAX_IN_FLIGHT) await Promise.race(inflight);
      while (nextFault < schedule.length && Date.now() - t0 >= schedule[nextFault]![0] * duration) {
        faultRuns.push(schedule[nextFault]![1]());
        nextFault++;
      }
      const id = randomUUID();
      sent++;
      if (i % 10 === 9) {
        const tx = body(id);
        direct.push(tx as OracleTx);
        directIds.add(id);
        const p = producer
          .send({ topic, acks: -1, messages: [{ key: tx.user_id, value: JSON.stringify(tx) }] })
          .then(
            () => void accepted.add(id),
            () => {},
          );
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
        continue;
      }
      const p = post(body(id)).then(() => {
        if (brokerRestartedAt > 0 && Number.isNaN(recoveryS))
          recoveryS = (Date.now() - brokerRestartedAt) / 1000;
      });
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      if (i % Math.floor(TOTAL / FUZZ) === 0) {
        fuzzSent++;
        void fetch(`http://127.0.0.1:${ports[1]}/transaction`, {
          method: "POST",
          headers: { "content-type": rand() < 0.8 ? "application/json" : "text/plain" },
          body:
            rand() < 0.5
              ? JSON.stringify({ ...body(randomUUID()), amount: rand() < 0.5 ? -1 : "x" })
              : "{".repeat(1 + Math.floor(rand() * 200)),
        }).then(
          async (r) => {
            await r.arrayBuffer();
            if (r.status >= 500 && r.status !== 503) http5xx++;
          },
          () => {},
        );
      }
    }
    await Promise.all(faultRuns);
    await Promise.all(inflight);
    clearInterval(progress);
    clearInterval(rewriter);
    // Poison of every reason, straight to the topic.
    const poisonValues: Array<{ key: string | null; value: Buffer | null; reason: string }> = [
      { key: "user-0000001", value: Buffer.from("{not json"), reason: "not_json" },
      { key: "user-0000001", value: null, reason: "empty_value" },
      { key: null, value: Buffer.from(JSON.stringify(body(randomUUID()))), reason: "missing_key" },
      {
        key: "someone-else",
        value: Buffer.from(JSON.stringify({ ...body(randomUUID()), user_id: "user-0000002" })),
        reason: "key_mismatch",
      },
      {
        key: "user-0000003",
        value: Buffer.from(JSON.stringify({ ...body(randomUUID()), user_id: "user-0000003", amount: "-1" })),
        reason: "schema_violation",
      },
      {
        key: "user-0000004",
        value: Buffer.from(
          JSON.stringify({ ...body(randomUUID()), user_id: "user-0000004", device_id: "4111111111111111" }),
        ),
        reason: "pan_not_allowed",
      },
      {
        key: "user-0000005",
        value: Buffer.concat([Buffer.from([0, 0, 0, 0, 42]), Buffer.from("{}")]),
        reason: "unknown_schema_id",
      },
      { key: "user-0000006", value: Buffer.alloc(20_000, 0x20), reason: "oversized" },
    ];
    await producer.send({
      topic,
      acks: -1,
      messages: poisonValues.map((p) => ({ key: p.key, value: p.value })),
    });
    await producer.disconnect();

    // ---- drain, then check ----
    log("load done; waiting for the consumers to catch up");
    const drained = await pollUntil(
      async () => {
        const [ends, committed] = await withAdmin(
          sandbox.kafka,
          async (a) =>
            [
              await a.fetchTopicOffsets(topic),
              (await a.fetchOffsets({ groupId: sandbox.config.consumer.group, topics: [topic] }))[0]!
                .partitions,
            ] as const,
        );
        const lag = ends.reduce((n, e) => {
          const c = committed.find((x) => x.partition === e.partition);
          return n + Math.max(0, Number(e.high) - Math.max(0, Number(c?.offset ?? 0)));
        }, 0);
        log(`lag ${lag}`);
        if (lag === 0 && brokerRestartedAt > 0 && Number.isNaN(recoveryS))
          recoveryS = (Date.now() - brokerRestartedAt) / 1000;
        return lag === 0 ? true : undefined;
      },
      { timeoutMs: 240_000, everyMs: 3_000 },
    );
    const ids = [...accepted];
    const { rows: storedRows } = await db.query<{ id: string; n: number; live: number }>(
      `SELECT t.transaction_id::text AS id, count(DISTINCT t.transaction_id)::int AS n,
              count(d.transaction_id) FILTER (WHERE d.live)::int AS live
       FROM transactions t LEFT JOIN decisions d ON d.transaction_id = t.transaction_id
       WHERE t.transaction_id = ANY($1::uuid[]) GROUP BY t.transaction_id`,
      [ids],
    );
    const stored = new Map(storedRows.map((r) => [r.id, r]));
    const lostIds = ids.filter((id) => !stored.has(id));
    const lost = lostIds.length;
    const duplicated = storedRows.filter((r) => r.live !== 1).length;
    // The oracle, from the topic order and the profiles (rewritten with the same values).
    const messages = await readAll(sandbox.kafka, topic, 300_000);
    const byPartition = new Map<number, Array<{ offset: bigint; tx: OracleTx }>>();
    for (const m of messages) {
      let tx: OracleTx;
      try {
        tx = JSON.parse(m.value!.toString());
      } catch {
        continue;
      }
      if (
        !tx.transaction_id ||
        m.key?.toString() !== tx.user_id ||
        Number(tx.amount) <= 0 ||
        (tx as { device_id?: string }).device_id
      )
        continue;
      const list = byPartition.get(m.partition) ?? [];
      list.push({ offset: BigInt(m.offset), tx: { ...tx, receivedMs: Number(m.timestamp) } });
      byPartition.set(m.partition, list);
    }
    const { rows: profileRows } = await db.query<OracleProfile & { user_id: string }>(
      "SELECT user_id, status, risk_tier, home_country, currency, per_transaction_limit::text, daily_limit::text FROM user_profiles",
    );
    const expected = oracleDecideAll(
      DEFAULT_SETTINGS,
      new Map(
        [...byPartition].map(([p, l]) => [
          p,
          l.sort((a, b) => (a.offset < b.offset ? -1 : 1)).map((x) => x.tx),
        ]),
      ),
      new Map(profileRows.map((r) => [r.user_id, r])),
    );
    const { rows: decisions } = await db.query<{
      id: string;
      decision: string;
      score: number;
      reasons: string[];
    }>("SELECT transaction_id::text AS id, decision, score, reasons FROM decisions WHERE live");
    const wrong = decisions.filter((d) => {
      const e = expected.get(d.id);
      return (
        !e ||
        e.decision !== d.decision ||
        e.score !== d.score ||
        e.reasons.join() !== [...d.reasons].sort().join()
      );
    }).length;
    const letters = await readAll(sandbox.kafka, sandbox.config.kafka.topics.dlq, 60_000);
    const reasons = new Set(letters.map((l) => l.headers?.["x-error-reason"]?.toString()));
    const poisonLettered = poisonValues.filter((p) => reasons.has(p.reason)).length;
    const published = new Set(
      (await readAll(sandbox.kafka, sandbox.config.kafka.topics.decisions, 300_000)).map(
        (m) => JSON.parse(m.value!.toString()).transaction_id as string,
      ),
    );
    const unpublished = ids.filter((id) => !published.has(id)).length;
    // Where each lost transaction is: on the topic (and not stored), dead-lettered, or nowhere.
    for (const id of lostIds.slice(0, 10)) {
      const onTopic = messages.find((m) => m.value?.toString().includes(id));
      const letter = letters.find((l) => l.value?.toString().includes(id));
      log(
        `lost ${id} (${directIds.has(id) ? "direct" : "http"}): ${onTopic ? `on the topic at ${onTopic.partition}:${onTopic.offset}` : "not on the topic"}${letter ? `, dead-lettered: ${letter.headers?.["x-error"]?.toString()}` : ""}`,
      );
    }
    const figures = {
      accepted: accepted.size,
      lost,
      duplicated,
      wrong_decisions: wrong,
      unpublished,
      poison_sent: poisonValues.length,
      poison_dead_lettered: poisonLettered,
      stalled_partitions: drained ? 0 : 1,
      http_5xx: http5xx,
      fuzz_bodies: fuzzSent,
      profile_rewrites: rewrites,
      faults_injected: faults.length,
      max_lag: maxLag,
      // From the broker's return to the first accepted post after it, or (when the load was over by
      // then) to the consumers' lag back at 0.
      recovery_s_after_broker_restart: Number.isNaN(recoveryS) ? "n/a" : recoveryS.toFixed(1),
    };
    mkdirSync(join(REPO_ROOT, "bench/results"), { recursive: true });
    const file = join(
      REPO_ROOT,
      `bench/results/chaos-${new Date().toISOString().replace(/[:.]/g, "-")}.json`,
    );
    writeFileSync(file, JSON.stringify({ seed, quick, total: TOTAL, rate: RATE, faults, figures }, null, 2));
    log(`report: ${file}`);
    for (const [k, v] of Object.entries(figures)) console.log(`${k}=${v}`);
    const broken =
      lost > 0 ||
      duplicated > 0 ||
      wrong > 0 ||
      unpublished > 0 ||
      !drained ||
      http5xx > 0 ||
      poisonLettered < poisonValues.length;
    await pgProxy.close();
    await redisProxy.close();
    return broken ? 1 : 0;
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await db.end();
    await sandbox.cleanup();
  }
}

process.exit(await main());

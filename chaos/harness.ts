import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Admin, Kafka } from "kafkajs";
import pg from "pg";
import { seedProfiles } from "../src/cli/seed.ts";
import { describeOffsets, fetchCommitted, type GroupOffsets } from "../src/kafka/offsets.ts";
import { REPO_ROOT } from "../src/paths.ts";
import { pollUntil, withDeadline } from "../src/poll.ts";
import { prng } from "../src/random.ts";
import { createSandbox, type Sandbox } from "../src/stack/sandbox.ts";
import { createDatabasePool } from "../src/store/pool.ts";
import { createProfileStore } from "../src/store/profile-store.ts";
import { freePorts } from "../test/support/ports.ts";
import { type Proc, startNode, waitForHttp } from "../test/support/processes.ts";
import { startTcpProxy } from "../test/support/tcp-proxy.ts";
import type { ChaosEvent, ChaosOptions, ChaosSample } from "./types.ts";
import { CHAOS_RETRY_SCHEDULE, type ChaosReceiver, startChaosReceiver, subscribe } from "./webhooks.ts";

/*
 * The run's topology and its record: a sandbox with seeded profiles, PostgreSQL and Redis behind
 * TCP proxies the faults cut and slow, two `sentinel ingest` and three `sentinel consume`
 * processes, a `sentinel webhooks` process delivering to a receiver of the harness's, the event
 * log and the timeline (accepted, committed and lag every sampleMs).
 */

export type Resolved = ChaosOptions & { sampleMs: number; gatewayPatienceMs: number; receiverDownMs: number };
type TcpProxy = Awaited<ReturnType<typeof startTcpProxy>>;

export type Harness = {
  o: Resolved;
  rand: () => number;
  log: (line: string) => void;
  sandbox: Sandbox;
  topic: string;
  db: pg.Client;
  /** The group on the transactions topic now (`sentinel offsets`' view), or a failure after `ms`. */
  groupNow(ms: number): Promise<GroupOffsets>;
  /** The group's committed offsets only (`fetchCommitted`: answers while a dead node leads partitions). */
  committedNow(ms: number): Promise<Map<number, bigint>>;
  /** Seconds since the start, to the tenth. */
  atS(): number;
  event(kind: ChaosEvent["kind"], name: string): void;
  events: ChaosEvent[];
  faultCount(): number;
  phase: string;
  timeline: ChaosSample[];
  /** Transactions accepted (202/200 over HTTP, or acknowledged by Kafka for the direct producer). */
  accepted: Set<string>;
  /** Takes one timeline sample (skipped while one is pending). */
  sample(): Promise<void>;
  every(ms: number, fn: () => void): NodeJS.Timeout;
  stopTimers(): void;
  /** Steps of the harness itself that failed (a broker that never came back, …): the run is void. */
  harnessErrors: string[];
  ports: number[];
  ingest: Proc[];
  consumers: Proc[];
  /** Every process started, restarted ones included (all stopped at the end). */
  procs: Proc[];
  startIngest(i: number): Proc;
  /** A `sentinel consume` process, the static member `instanceId` of the group. */
  startConsumer(instanceId: string): Proc;
  pgProxy: TcpProxy;
  redisProxy: TcpProxy;
  /** The webhook receiver the faults take down, and the delivery process. */
  receiver: ChaosReceiver;
  webhooks: Proc;
  close(): Promise<void>;
};

/** Consumer n's static member id, kept across its restarts (as a StatefulSet's pod name is). */
export const consumerId = (n: number) => `consumer-${n}`;

/** The committed offsets summed (what `committedNow` answers). */
export const sumOf = (committed: ReadonlyMap<number, bigint>) =>
  [...committed.values()].reduce((n, o) => n + Number(o), 0);

/** Starts the topology; the caller closes it. */
export async function startHarness(options: ChaosOptions): Promise<Harness> {
  const o: Resolved = { sampleMs: 2_000, gatewayPatienceMs: 90_000, receiverDownMs: 60_000, ...options };
  const log = o.log ?? ((line: string) => process.stderr.write(`[chaos] ${line}\n`));
  const sandbox = await createSandbox(o.services, {
    prefix: "chaos",
    overrides: { TOPIC_TRANSACTIONS_PARTITIONS: "6", ...(o.fourEyes ? { APPROVALS_REQUIRED: "true" } : {}) },
  });
  const topic = sandbox.config.kafka.topics.transactions;
  const group = sandbox.config.consumer.group;
  const db = new pg.Client({ connectionString: sandbox.config.database.url });
  await db.connect();
  // Two clients: a describe failing while a node is dead (and its client dropped) must not take
  // the coordinator's answers with it.
  const groups = groupReader(sandbox.kafka, group, topic);
  const commits = groupReader(sandbox.kafka, group, topic);
  const t0 = Date.now();
  const timers = new Set<NodeJS.Timeout>();
  const proxies: TcpProxy[] = [];
  const h = {
    o,
    rand: prng(o.seed),
    log,
    sandbox,
    topic,
    db,
    groupNow: (ms: number) => withDeadline(groups.read(), ms, () => new Error(`no answer in ${ms} ms`)),
    committedNow: (ms: number) =>
      withDeadline(commits.committed(), ms, () => new Error(`no answer in ${ms} ms`)),
    atS: () => Math.round((Date.now() - t0) / 100) / 10,
    event(kind: ChaosEvent["kind"], name: string) {
      h.events.push({ atS: h.atS(), name, kind });
      log(`${kind}: ${name}`);
    },
    events: [] as ChaosEvent[],
    faultCount: () => h.events.filter((e) => e.kind === "fault").length,
    phase: "setup",
    timeline: [] as ChaosSample[],
    accepted: new Set<string>(),
    sample: async () => {},
    every(ms: number, fn: () => void) {
      const t = setInterval(fn, ms);
      timers.add(t);
      return t;
    },
    stopTimers: () => {
      for (const t of timers) clearInterval(t);
    },
    harnessErrors: [] as string[],
    procs: [] as Proc[],
    async close() {
      h.phase = "done";
      h.stopTimers();
      await Promise.all(h.procs.map((p) => p.stop()));
      keepLogs(h.procs);
      await Promise.all(proxies.map((p) => p.close()));
      await groups.close();
      await commits.close();
      await h.receiver?.close();
      await db.end();
      await sandbox.cleanup();
    },
  } as Harness;
  h.sample = sampler(h);
  try {
    await startTopology(h, proxies);
  } catch (error) {
    await h.close();
    throw error;
  }
  return h;
}

/** Profiles, proxies and processes, ready: both ingress processes answer and the group is stable. */
async function startTopology(h: Harness, proxies: TcpProxy[]): Promise<void> {
  const { sandbox, o } = h;
  const pool = await createDatabasePool(sandbox.config.database.url, { maxPoolSize: 2 });
  await seedProfiles(createProfileStore({ pool }), { users: o.users, progress: false, seed: o.seed });
  await pool.end();
  const pgUrl = new URL(sandbox.config.database.url);
  h.pgProxy = await startTcpProxy(pgUrl.hostname, Number(pgUrl.port || 5432));
  const redisUrl = new URL(sandbox.config.redis.url);
  h.redisProxy = await startTcpProxy(redisUrl.hostname, Number(redisUrl.port || 6379));
  proxies.push(h.pgProxy, h.redisProxy);
  const viaPg = new URL(sandbox.config.database.url);
  viaPg.port = String(h.pgProxy.port);
  const env = {
    ...sandbox.env,
    DATABASE_URL: viaPg.toString(),
    REDIS_URL: `redis://127.0.0.1:${h.redisProxy.port}`,
    LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? "warn",
    HOST: "127.0.0.1",
    WEBHOOK_ALLOW_PRIVATE: "true",
    WEBHOOK_RETRY_SCHEDULE: CHAOS_RETRY_SCHEDULE,
  };
  const bin = join(REPO_ROOT, "bin/sentinel.ts");
  h.ports = [await freePorts(), await freePorts()];
  // Every line kept when the logs are kept (CHAOS_LOGS_DIR); the last 20,000 characters otherwise.
  const keep = { keepChars: process.env.CHAOS_LOGS_DIR ? 50_000_000 : 20_000 };
  h.startIngest = (i) => track(h, startNode(bin, ["ingest"], { ...env, PORT: String(h.ports[i]) }, keep));
  h.startConsumer = (instanceId) =>
    track(h, startNode(bin, ["consume"], { ...env, CONSUMER_INSTANCE_ID: instanceId }, keep));
  h.ingest = [h.startIngest(0), h.startIngest(1)];
  h.consumers = [1, 2, 3].map((n) => h.startConsumer(consumerId(n)));
  for (const port of h.ports) await waitForHttp(`http://127.0.0.1:${port}/readyz`, 60_000);
  h.receiver = await startChaosReceiver();
  h.receiver.verifyWith(await subscribe(h, h.receiver.url));
  h.webhooks = track(h, startNode(bin, ["webhooks"], env, keep));
  await pollUntil(
    async () => {
      const g = await h.groupNow(5_000);
      return g.state === "Stable" && g.members.length === 3;
    },
    { timeoutMs: 60_000, everyMs: 500 },
  );
}

function track(h: Harness, p: Proc): Proc {
  h.procs.push(p);
  // A process that ends by itself (not SIGKILLed by a fault, not stopped at the end) is news: the
  // run says so with its last lines.
  p.child.once("exit", (code, signal) => {
    if (signal === "SIGKILL" || signal === "SIGTERM" || h.phase === "done") return;
    const args = p.child.spawnargs.slice(-1).join(" ");
    // Not a fault the run injected (faults_injected counts those): an observation, with the evidence.
    // What it said last: Node's own report of an uncaught error (the lines that are not our JSON
    // logs; its version line alone says nothing), else its last fatal log, else its last lines.
    const lines = p.output().trim().split("\n").slice(-40);
    const plain = lines.findIndex((l) => !l.startsWith("{"));
    const fatal = lines.findLastIndex((l) => l.includes('"level":60'));
    const from = plain >= 0 ? plain : fatal >= 0 ? fatal : Math.max(0, lines.length - 3);
    h.event(
      "load",
      `${args} exited by itself (code ${code}): ${lines.slice(from).join(" | ").slice(0, 1_500)}`,
    );
  });
  return p;
}

/** Accepted, committed and lag, one sample at a time (a sample pending when the next is due is skipped). */
function sampler(h: Harness): () => Promise<void> {
  let sampling = false;
  let lastError = "";
  return async () => {
    if (sampling) return;
    sampling = true;
    const s: ChaosSample = {
      atS: h.atS(),
      phase: h.phase,
      accepted: h.accepted.size,
      committed: null,
      lag: null,
    };
    try {
      // Committed and lag asked apart: while a dead node still leads partitions the end offsets
      // do not answer, but the coordinator does, and the timeline keeps its committed line. The
      // committed sum is stamped when it answers (offsets only grow, so a late answer is a true
      // point of the line), and waited for longer: a busy box answering in 3 s is not a gap.
      const [committed, g] = await Promise.allSettled([
        h.committedNow(5_000).then((offsets) => {
          s.committed = sumOf(offsets);
          s.atS = h.atS();
        }),
        h.groupNow(2_000),
      ]);
      if (g.status === "fulfilled") s.lag = Number(g.value.totalLag);
      const failed = [committed, g].find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
    } catch (error) {
      // the broker is away: a gap in the lag line
      const why = (error as Error).message;
      if (why !== lastError) h.log(`lag sample failed: ${why}`);
      lastError = why;
    } finally {
      h.timeline.push(s);
      sampling = false;
    }
  };
}

/**
 * The group's offsets, asked over one admin client kept connected for the whole run (dropped and
 * made again after an error): a new client per question, connecting to every broker, took over the
 * 2 s deadline on the loaded box, and the full three-broker run's timeline had almost no samples.
 */
function groupReader(kafka: Kafka, group: string, topic: string) {
  let admin: Promise<Admin> | undefined;
  const connected = () => {
    admin ??= (async () => {
      // A few quick retries, not none: a new kafkajs client starts at the *first* seed broker,
      // and only a retry moves it to the next one — with none, every client made while node 1
      // was dead failed at once, and the offsets went unread for the whole fault (21.9 s).
      const a = kafka.admin({ retry: { retries: 3, initialRetryTime: 50, maxRetryTime: 250 } });
      await a.connect();
      return a;
    })();
    return admin;
  };
  const drop = (current: Promise<Admin>) => {
    if (admin === current) admin = undefined;
    void current.then((a) => a.disconnect()).catch(() => {});
  };
  const asking = async <T>(question: (a: Admin) => Promise<T>): Promise<T> => {
    const current = connected();
    try {
      return await question(await current);
    } catch (error) {
      drop(current);
      throw error;
    }
  };
  return {
    read: () => asking((a) => describeOffsets(a, group, topic)),
    committed: () => asking((a) => fetchCommitted(a, group, topic)),
    async close() {
      if (admin) drop(admin);
    },
  };
}

/**
 * CHAOS_LOGS_DIR=<dir>: every process's output (restarted ones too), one file each, for reading a
 * run afterwards (they log at warn, kafkajs's own warnings included; CHAOS_LOG_LEVEL=info for more;
 * every line is kept when this is set).
 */
function keepLogs(procs: readonly Proc[]): void {
  const dir = process.env.CHAOS_LOGS_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  procs.forEach((p, i) => {
    const name = p.child.spawnargs.at(-1) ?? "process";
    writeFileSync(join(dir, `${String(i).padStart(2, "0")}-${name}-${p.child.pid}.log`), p.output());
  });
}

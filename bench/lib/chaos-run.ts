import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Partitioners } from "kafkajs";
import pg from "pg";
import { seedProfiles } from "../../src/cli/seed.ts";
import { withAdmin } from "../../src/kafka/admin.ts";
import { describeOffsets, type GroupOffsets } from "../../src/kafka/offsets.ts";
import { createLogger } from "../../src/logger.ts";
import { REPO_ROOT } from "../../src/paths.ts";
import { backoffMs, pollUntil, withDeadline } from "../../src/poll.ts";
import { prng } from "../../src/random.ts";
import { createSandbox, type Services } from "../../src/stack/sandbox.ts";
import { waitForKafka } from "../../src/stack/stack.ts";
import { createDatabasePool } from "../../src/store/pool.ts";
import { createProfileStore } from "../../src/store/profile-store.ts";
import {
  DEFAULT_SETTINGS,
  type OracleProfile,
  type OracleTx,
  oracleDecideAll,
  oracleInputFromTopic,
  sameDecision,
} from "../../test/support/oracle.ts";
import { freePorts } from "../../test/support/ports.ts";
import { type Proc, startNode, waitForHttp } from "../../test/support/processes.ts";
import { startTcpProxy } from "../../test/support/tcp-proxy.ts";
import { readAll } from "../../test/support/topics.ts";

/*
 * The chaos harness (issue 15), shared by `npm run chaos` and the shortened run inside `npm test`:
 * the pipeline under combined faults with a checker of its own. Two `sentinel ingest` and three
 * `sentinel consume` processes on a sandbox, PostgreSQL and Redis behind TCP proxies the harness
 * cuts and slows; load over HTTP to both ingress processes (a client that retries 503 and
 * connection errors with the same transaction_id, as a gateway would), 10% straight to Kafka,
 * poison of every dead-letter reason, profile rewrites and fuzzed bodies; faults on a seeded
 * schedule, overlapping. The checker reads PostgreSQL and the topics itself and compares every
 * decision with the test oracle (test/support/oracle.ts, a second implementation of the rules).
 */

export type BrokerControl = {
  /** SIGKILL the broker. */
  kill(): void;
  /** Start it again (on the same data); the harness waits until it answers. */
  start(): void;
};

export type ChaosOptions = {
  seed: number;
  /** Transactions sent (HTTP and direct). */
  total: number;
  users: number;
  /** Transactions per second offered. */
  rate: number;
  /** Fuzzed HTTP bodies spread over the load. */
  fuzz: number;
  /** How long PostgreSQL and Redis are cut. */
  cutMs: number;
  /** The delay added in each direction on the PostgreSQL proxy, and for how long. */
  delayMs: number;
  delayForMs: number;
  /** Consumers SIGKILLed (and restarted), 1 to 3, one after the other. */
  consumerKills: number;
  services: Services;
  /** The broker to kill and restart; without it that fault is skipped (and not counted). */
  broker?: BrokerControl;
  /** How long the simulated gateway keeps retrying one transaction (default 90 s). */
  gatewayPatienceMs?: number;
  /** Timeline sample period. */
  sampleMs?: number;
  log?: (line: string) => void;
};

export type ChaosEvent = { atS: number; name: string; kind: "fault" | "recovery" | "load" };
export type ChaosSample = {
  atS: number;
  phase: string;
  /** Transactions accepted (202/200 or acked by Kafka) so far. */
  accepted: number;
  /** Sum of the group's committed offsets on the transactions topic (null: broker unreachable). */
  committed: number | null;
  lag: number | null;
};

export type ChaosFigures = {
  accepted: number;
  /** Transactions the gateway gave up on, or whose direct send failed (never accepted: not a loss). */
  gave_up: number;
  /** Messages on the transactions topic, and how many of them repeat a transaction_id (retries). */
  topic_messages: number;
  topic_duplicates: number;
  lost: number;
  duplicated: number;
  wrong_decisions: number;
  unpublished: number;
  poison_sent: number;
  poison_dead_lettered: number;
  stalled_partitions: number;
  http_5xx: number;
  fuzz_bodies: number;
  profile_rewrites: number;
  faults_injected: number;
  max_lag: number;
  recovery_s_after_broker_restart: number | "n/a";
};

export type ChaosResult = {
  startedAt: string;
  options: Omit<ChaosOptions, "services" | "broker" | "log"> & { brokerRestart: boolean };
  events: ChaosEvent[];
  timeline: ChaosSample[];
  figures: ChaosFigures;
  /** One line per law that broke (empty: every law held). */
  broken: string[];
  /** Where each lost transaction was found (at most 20). */
  lostDetail: string[];
  /** What each wrong decision was made from (at most 10). */
  wrongDetail: string[];
};

/** The committed position summed over the partitions (a partition never committed counts its start). */
const committedSum = (g: GroupOffsets) => g.partitions.reduce((n, p) => n + Number(p.committed ?? p.low), 0);

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const o = { sampleMs: 2_000, gatewayPatienceMs: 90_000, ...options };
  const log = o.log ?? ((line: string) => process.stderr.write(`[chaos] ${line}\n`));
  const rand = prng(o.seed);
  const startedAt = new Date().toISOString();
  const sandbox = await createSandbox(o.services, {
    prefix: "chaos",
    overrides: { TOPIC_TRANSACTIONS_PARTITIONS: "6" },
  });
  const topic = sandbox.config.kafka.topics.transactions;
  const group = sandbox.config.consumer.group;
  /** The group on the transactions topic now (`sentinel offsets`' view), or a failure after `ms`. */
  const groupNow = (ms: number) =>
    withDeadline(
      withAdmin(sandbox.kafka, (a) => describeOffsets(a, group, topic), { retry: { retries: 0 } }),
      ms,
      () => new Error(`no answer in ${ms} ms`),
    );
  const db = new pg.Client({ connectionString: sandbox.config.database.url });
  await db.connect();
  const t0 = Date.now();
  const atS = () => Math.round((Date.now() - t0) / 100) / 10;
  const events: ChaosEvent[] = [];
  const event = (kind: ChaosEvent["kind"], name: string) => {
    events.push({ atS: atS(), name, kind });
    log(`${kind}: ${name}`);
  };
  const faultCount = () => events.filter((e) => e.kind === "fault").length;
  const timeline: ChaosSample[] = [];
  let phase = "setup";
  const procs: Proc[] = [];
  const proxies: Array<{ close(): Promise<void> }> = [];
  const timers = new Set<NodeJS.Timeout>();
  const every = (ms: number, fn: () => void) => {
    const t = setInterval(fn, ms);
    timers.add(t);
    return t;
  };
  /** Steps of the harness itself that failed (a broker that never came back, …): the run is void. */
  const harnessErrors: string[] = [];
  try {
    const pool = await createDatabasePool(sandbox.config.database.url, { maxPoolSize: 2 });
    await seedProfiles(createProfileStore({ pool }), { users: o.users, progress: false, seed: o.seed });
    await pool.end();
    const pgUrl = new URL(sandbox.config.database.url);
    const pgProxy = await startTcpProxy(pgUrl.hostname, Number(pgUrl.port || 5432));
    const redisUrl = new URL(sandbox.config.redis.url);
    const redisProxy = await startTcpProxy(redisUrl.hostname, Number(redisUrl.port || 6379));
    proxies.push(pgProxy, redisProxy);
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
    const ports = [await freePorts(), await freePorts()];
    const startIngest = (i: number) => startNode(bin, ["ingest"], { ...env, PORT: String(ports[i]) });
    const startConsumer = () => startNode(bin, ["consume"], env);
    const ingest = [startIngest(0), startIngest(1)];
    const consumers = [startConsumer(), startConsumer(), startConsumer()];
    procs.push(...ingest, ...consumers);
    for (const port of ports) await waitForHttp(`http://127.0.0.1:${port}/readyz`, 60_000);
    await pollUntil(
      async () => {
        const g = await groupNow(5_000);
        return g.state === "Stable" && g.members.length === 3;
      },
      { timeoutMs: 60_000, everyMs: 500 },
    );

    // ---- the timeline: accepted, committed and lag every sampleMs (skipped while one is pending) ----
    const accepted = new Set<string>();
    let maxLag = 0;
    let sampling = false;
    let lastSampleError = "";
    const sample = async () => {
      if (sampling) return;
      sampling = true;
      const s: ChaosSample = { atS: atS(), phase, accepted: accepted.size, committed: null, lag: null };
      try {
        const g = await groupNow(2_000);
        s.committed = committedSum(g);
        s.lag = Number(g.totalLag);
        maxLag = Math.max(maxLag, s.lag);
      } catch (error) {
        // the broker is away: a gap in the lag line
        const why = (error as Error).message;
        if (why !== lastSampleError) log(`lag sample failed: ${why}`);
        lastSampleError = why;
      } finally {
        timeline.push(s);
        sampling = false;
      }
    };
    every(o.sampleMs, () => void sample());

    // ---- load ----
    phase = "load";
    event("load", "load starts");
    let http5xx = 0;
    let gaveUp = 0;
    let sent = 0;
    let fuzzSent = 0;
    const users = [...Array(o.users)].map((_, i) => `user-${String(i + 1).padStart(7, "0")}`);
    const body = (id: string) => ({
      transaction_id: id,
      user_id: users[Math.floor(rand() * users.length)]!,
      amount: `${1 + Math.floor(rand() * 300)}.${String(Math.floor(rand() * 100)).padStart(2, "0")}`,
      currency: "USD",
      country: rand() < 0.9 ? "US" : "FR",
    });
    const count5xx = async (r: Response) => {
      await r.arrayBuffer();
      if (r.status >= 500 && r.status !== 503) http5xx++;
      return r.status;
    };
    /**
     * A gateway: 503, timeouts and connection errors are retried with the same id, backing off from
     * 250 ms to 2 s, for up to `gatewayPatienceMs` (then it gives up: not accepted, not counted).
     */
    const post = async (b: { transaction_id: string }): Promise<void> => {
      const giveUpAt = Date.now() + o.gatewayPatienceMs;
      for (let t = 0; Date.now() < giveUpAt; t++) {
        try {
          const res = await fetch(`http://127.0.0.1:${ports[(t + sent) % 2]}/transaction`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(b),
            signal: AbortSignal.timeout(5_000),
          });
          const status = await count5xx(res);
          if (status === 202 || status === 200) {
            accepted.add(b.transaction_id);
            return;
          }
          if (status !== 503) return;
        } catch {
          // connection refused (a killed ingress) or timed out: the same id again
        }
        await sleep(backoffMs(t, { baseMs: 250, maxMs: 2_000 }));
      }
      gaveUp++;
    };
    // A direct producer as another service would run one: acks=all, one request in flight. Not
    // kafkajs's idempotent mode, which loses acknowledged batches after a failed request (see
    // src/kafka/producer.ts): the harness would count its own client's losses against the pipeline.
    const producer = sandbox.kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const directIds = new Set<string>();
    // The direct producer batches what came in the last 20 ms into one request, as a service would.
    let directQueue: Array<{ id: string; tx: ReturnType<typeof body>; done: () => void }> = [];
    let directSending = false;
    let directFailed = 0;
    every(20, async () => {
      if (directSending || directQueue.length === 0) return;
      directSending = true;
      const batch = directQueue;
      directQueue = [];
      try {
        await producer.send({
          topic,
          acks: -1,
          messages: batch.map((d) => ({ key: d.tx.user_id, value: JSON.stringify(d.tx) })),
        });
        for (const d of batch) accepted.add(d.id);
      } catch {
        directFailed += batch.length; // its retries ran out while the broker was away: never accepted
      } finally {
        directSending = false;
        for (const d of batch) d.done();
      }
    });
    /** At most this many requests in flight: while the broker is away the load queues, not sockets. */
    const maxInFlight = 1_000;
    const inflight = new Set<Promise<void>>();
    const track = (p: Promise<void>) => {
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    };

    // Poison of every reason, straight to the topic, during the load.
    const poison: Array<{ key: string | null; value: Buffer | null; reason: string }> = [
      { key: users[0]!, value: Buffer.from("{not json"), reason: "not_json" },
      { key: users[0]!, value: null, reason: "empty_value" },
      { key: null, value: Buffer.from(JSON.stringify(body(randomUUID()))), reason: "missing_key" },
      {
        key: "someone-else",
        value: Buffer.from(JSON.stringify({ ...body(randomUUID()), user_id: users[1] })),
        reason: "key_mismatch",
      },
      {
        key: users[2]!,
        value: Buffer.from(JSON.stringify({ ...body(randomUUID()), user_id: users[2], amount: "-1" })),
        reason: "schema_violation",
      },
      {
        key: users[3]!,
        value: Buffer.from(
          JSON.stringify({ ...body(randomUUID()), user_id: users[3], device_id: "4111111111111111" }),
        ),
        reason: "pan_not_allowed",
      },
      {
        key: users[4]!,
        value: Buffer.concat([Buffer.from([0, 0, 0, 0, 42]), Buffer.from("{}")]),
        reason: "unknown_schema_id",
      },
      { key: users[5]!, value: Buffer.alloc(20_000, 0x20), reason: "oversized" },
    ];
    let poisonSent = 0;

    // ---- the fault schedule (fractions of the load's duration, jittered by the seed) ----
    const duration = (o.total / o.rate) * 1000;
    let recoveryS: number | "n/a" = "n/a";
    const schedule: Array<{ at: number; run: () => Promise<void> }> = [];
    const at = (fraction: number, run: () => Promise<void>) =>
      schedule.push({ at: fraction * (0.9 + rand() * 0.2) * duration, run });
    const kill = (name: string, list: Proc[], index: number, restart: () => Proc) => async () => {
      list[index]!.child.kill("SIGKILL");
      event("fault", `SIGKILL ${name}`);
      await sleep(2_000);
      list[index] = restart();
      procs.push(list[index]!);
      event("recovery", `${name} restarted`);
    };
    [0.15, 0.4, 0.8].slice(0, Math.max(1, Math.min(3, o.consumerKills))).forEach((f, i) => {
      at(f, kill(`consumer ${i + 1}`, consumers, i, startConsumer));
    });
    const cut = (name: string, proxy: typeof pgProxy) => async () => {
      proxy.down();
      event("fault", `${name} cut`);
      await sleep(o.cutMs);
      proxy.up();
      event("recovery", `${name} back`);
    };
    at(0.25, cut("PostgreSQL", pgProxy));
    at(0.3, async () => {
      await producer.send({
        topic,
        acks: -1,
        messages: poison.map((p) => ({ key: p.key, value: p.value })),
      });
      poisonSent = poison.length;
      event("load", `${poison.length} poison messages`);
    });
    at(0.45, cut("Redis", redisProxy));
    at(
      0.55,
      kill("ingest 1", ingest, 0, () => startIngest(0)),
    );
    at(0.65, async () => {
      if (!o.broker) {
        event("load", "broker restart skipped (no broker this harness may kill)");
        return;
      }
      const before = await groupNow(5_000).then(committedSum, () => undefined);
      o.broker.kill();
      event("fault", "SIGKILL broker");
      await sleep(2_000);
      o.broker.start();
      const restarted = Date.now();
      const acceptedAtRestart = accepted.size;
      await waitForKafka(
        sandbox.config.kafka.brokers,
        createLogger({ log: { level: "fatal", pretty: false } }),
        120_000,
      );
      event("recovery", "broker answers");
      // Recovered = the consumers commit past where they were at the kill, and the ingress accepts
      // again (or nothing was waiting to be accepted).
      const flowing = await pollUntil(
        async () => {
          const now = await groupNow(2_000).then(committedSum, () => undefined);
          const consuming = now !== undefined && (before === undefined || now > before);
          const ingesting = accepted.size > acceptedAtRestart || inflight.size === 0;
          return consuming && ingesting;
        },
        { timeoutMs: 180_000, everyMs: 250 },
      );
      if (flowing) recoveryS = Math.round((Date.now() - restarted) / 100) / 10;
      event("recovery", `pipeline flowing again (${recoveryS} s after the restart)`);
    });
    at(0.85, async () => {
      pgProxy.delay(o.delayMs);
      event("fault", `PostgreSQL delayed ${o.delayMs} ms each way`);
      await sleep(o.delayForMs);
      pgProxy.delay(0);
      event("recovery", "PostgreSQL delay removed");
    });
    schedule.sort((a, b) => a.at - b.at);

    // Profile rewrites (same values: a new version, the cached copy replaced) every 500 ms.
    const { rows: current } = await db.query(
      "SELECT user_id, status, risk_tier, home_country, currency, per_transaction_limit::text, daily_limit::text FROM user_profiles",
    );
    let rewrites = 0;
    const rewriter = every(500, () => {
      const { user_id, ...profile } = current[Math.floor(rand() * current.length)];
      rewrites++;
      void fetch(`http://127.0.0.1:${ports[rewrites % 2]}/users/${user_id}/profile`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(profile),
        signal: AbortSignal.timeout(5_000),
      }).then(count5xx, () => {});
    });
    const fuzzBody = (): { type: string; text: string } => {
      const valid = JSON.stringify(body(randomUUID()));
      const r = rand();
      if (r < 0.3) {
        // a valid body with a few bytes changed
        const chars = [...valid];
        for (let k = 0; k < 1 + Math.floor(rand() * 4); k++)
          chars[Math.floor(rand() * chars.length)] = String.fromCharCode(Math.floor(rand() * 128));
        return { type: "application/json", text: chars.join("") };
      }
      if (r < 0.5)
        return { type: "application/json", text: JSON.stringify({ ...JSON.parse(valid), amount: -1 }) };
      if (r < 0.65) return { type: "application/json", text: "[".repeat(1 + Math.floor(rand() * 5_000)) };
      if (r < 0.8) {
        const bytes = Buffer.alloc(1 + Math.floor(rand() * 512));
        for (let k = 0; k < bytes.length; k++) bytes[k] = Math.floor(rand() * 256);
        return { type: "application/json", text: bytes.toString("latin1") };
      }
      const types = [
        "text/plain",
        "application/xml",
        "multipart/form-data",
        "application/x-www-form-urlencoded",
        "",
      ];
      return { type: types[Math.floor(rand() * types.length)]!, text: valid };
    };
    const progress = () => {
      const last = timeline.at(-1);
      const lastEvent = events.at(-1);
      log(
        `phase=${phase} t=${Math.round(atS())}s sent=${sent}/${o.total} accepted=${accepted.size} in_flight=${inflight.size} faults=${faultCount()} lag=${last?.lag ?? "?"}${lastEvent ? ` last="${lastEvent.name}"` : ""}`,
      );
    };
    every(5_000, progress);

    const loadStart = Date.now();
    const faultRuns: Array<Promise<void>> = [];
    const launch = (run: () => Promise<void>) =>
      faultRuns.push(
        run().catch((error: Error) => {
          harnessErrors.push(error.message);
          event("load", `a fault step failed: ${error.message}`);
        }),
      );
    let nextFault = 0;
    const fuzzEvery = Math.max(1, Math.floor(o.total / Math.max(1, o.fuzz)));
    for (let i = 0; i < o.total; i++) {
      const wait = loadStart + (i / o.rate) * 1000 - Date.now();
      if (wait > 0) await sleep(wait);
      while (inflight.size >= maxInFlight) await Promise.race(inflight);
      while (nextFault < schedule.length && Date.now() - loadStart >= schedule[nextFault]!.at)
        launch(schedule[nextFault++]!.run);
      const id = randomUUID();
      sent++;
      if (i % 10 === 9) {
        const tx = body(id);
        directIds.add(id);
        track(new Promise<void>((done) => directQueue.push({ id, tx, done })));
        continue;
      }
      track(post(body(id)));
      if (i % fuzzEvery === 0 && fuzzSent < o.fuzz) {
        fuzzSent++;
        const f = fuzzBody();
        void fetch(`http://127.0.0.1:${ports[1]}/transaction`, {
          method: "POST",
          headers: f.type ? { "content-type": f.type } : {},
          body: f.text,
          signal: AbortSignal.timeout(5_000),
        }).then(count5xx, () => {});
      }
    }
    // Faults whose time came after the last transaction still run (the schedule is complete).
    while (nextFault < schedule.length) launch(schedule[nextFault++]!.run);
    await Promise.all(faultRuns);
    await Promise.all(inflight);
    event("load", "load done");
    clearInterval(rewriter);
    await producer.disconnect();

    // ---- drain, then check ----
    phase = "drain";
    let behind: number[] = [];
    const drained = await pollUntil(
      async () => {
        const g = await groupNow(5_000);
        behind = g.partitions.filter((p) => p.lag > 0n).map((p) => p.partition);
        return g.totalLag === 0n;
      },
      { timeoutMs: 240_000, everyMs: 2_000 },
    );
    event("load", drained ? "drained" : "not drained after 240 s");
    await sample();
    phase = "check";
    for (const t of timers) clearInterval(t);
    progress();

    const ids = [...accepted];
    const { rows: storedRows } = await db.query<{ id: string; live: number }>(
      `SELECT t.transaction_id::text AS id, count(d.transaction_id) FILTER (WHERE d.live)::int AS live
       FROM transactions t LEFT JOIN decisions d ON d.transaction_id = t.transaction_id
       WHERE t.transaction_id = ANY($1::uuid[]) GROUP BY t.transaction_id`,
      [ids],
    );
    const stored = new Map(storedRows.map((r) => [r.id, r]));
    const lostIds = ids.filter((id) => !stored.has(id));
    const duplicated = storedRows.filter((r) => r.live !== 1).length;
    // The oracle, from the topic order and the profiles (rewritten with the same values).
    const messages = await readAll(sandbox.kafka, topic, 300_000);
    const { rows: profileRows } = await db.query<OracleProfile & { user_id: string }>(
      "SELECT user_id, status, risk_tier, home_country, currency, per_transaction_limit::text, daily_limit::text FROM user_profiles",
    );
    // What the consumer dead-letters besides (schema violations, card numbers) is not decided.
    const valid = (tx: OracleTx) => Number(tx.amount) > 0 && !(tx as { device_id?: string }).device_id;
    const inTopicOrder = oracleInputFromTopic(messages, valid);
    const expected = oracleDecideAll(
      DEFAULT_SETTINGS,
      inTopicOrder,
      new Map(profileRows.map((r) => [r.user_id, r])),
    );
    const { rows: decisions } = await db.query<{
      id: string;
      decision: string;
      score: number;
      reasons: string[];
    }>("SELECT transaction_id::text AS id, decision, score, reasons FROM decisions WHERE live");
    const wrongIds = decisions.filter((d) => !sameDecision(expected.get(d.id), d)).map((d) => d.id);
    const letters = await readAll(sandbox.kafka, sandbox.config.kafka.topics.dlq, 60_000);
    const reasons = new Set(letters.map((l) => l.headers?.["x-error-reason"]?.toString()));
    const poisonLettered = poisonSent === 0 ? 0 : poison.filter((p) => reasons.has(p.reason)).length;
    const published = new Set(
      (await readAll(sandbox.kafka, sandbox.config.kafka.topics.decisions, 300_000)).map(
        (m) => JSON.parse(m.value!.toString()).transaction_id as string,
      ),
    );
    const unpublished = ids.filter((id) => !published.has(id)).length;
    // Where each lost transaction is: on the topic (and not stored), dead-lettered, or nowhere.
    const lostDetail = lostIds.slice(0, 20).map((id) => {
      const onTopic = messages.find((m) => m.value?.toString().includes(id));
      const letter = letters.find((l) => l.value?.toString().includes(id));
      return `lost ${id} (${directIds.has(id) ? "direct" : "http"}): ${onTopic ? `on the topic at ${onTopic.partition}:${onTopic.offset}` : "not on the topic"}${letter ? `, dead-lettered: ${letter.headers?.["x-error"]?.toString()}` : ""}`;
    });
    for (const line of lostDetail) log(line);
    // What each wrong decision was made from: the stored row, every copy on the topic, and the
    // user's earlier transactions as the topic and the table hold them.
    const wrongDetail: string[] = [];
    for (const id of wrongIds.slice(0, 10)) {
      const d = decisions.find((x) => x.id === id)!;
      const e = expected.get(id);
      const { rows } = await db.query<{ user_id: string; p: number; o: string; r: Date }>(
        "SELECT user_id, source_partition AS p, source_offset::text AS o, received_at AS r FROM transactions WHERE transaction_id = $1",
        [id],
      );
      const row = rows[0];
      const copies = messages
        .filter((m) => m.value?.toString().toLowerCase().includes(id))
        .map((m) => `${m.partition}:${m.offset}@${m.timestamp}`);
      const { rows: before } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM transactions WHERE user_id = $1 AND source_partition = $2
           AND source_offset < $3 AND received_at > $4::timestamptz - interval '60 seconds'`,
        [row?.user_id, row?.p, row?.o, row?.r],
      );
      wrongDetail.push(
        `wrong ${id} user ${row?.user_id}: stored ${d.decision}/${d.score}/${[...d.reasons].sort()} at ${row?.p}:${row?.o} received ${row?.r?.getTime()}; oracle ${e ? `${e.decision}/${e.score}/${e.reasons}` : "none"}; copies on the topic ${copies.join(" ")}; stored earlier within 60 s: ${before[0]?.n}`,
      );
    }
    for (const line of wrongDetail) log(line);

    // The oracle decides each id once: what the topic holds beyond that are repeats (retries).
    const topicDuplicates = [...inTopicOrder.values()].reduce((n, l) => n + l.length, 0) - expected.size;
    const figures: ChaosFigures = {
      accepted: accepted.size,
      gave_up: gaveUp + directFailed,
      topic_messages: messages.length,
      topic_duplicates: topicDuplicates,
      lost: lostIds.length,
      duplicated,
      wrong_decisions: wrongIds.length,
      unpublished,
      poison_sent: poison.length,
      poison_dead_lettered: poisonLettered,
      stalled_partitions: drained ? 0 : Math.max(1, behind.length),
      http_5xx: http5xx,
      fuzz_bodies: fuzzSent,
      profile_rewrites: rewrites,
      faults_injected: faultCount(),
      max_lag: maxLag,
      recovery_s_after_broker_restart: recoveryS,
    };
    const broken = [
      figures.lost > 0 && `${figures.lost} accepted transactions not stored`,
      figures.duplicated > 0 && `${figures.duplicated} transactions without exactly one live decision`,
      figures.wrong_decisions > 0 && `${figures.wrong_decisions} decisions differ from the oracle`,
      figures.unpublished > 0 && `${figures.unpublished} accepted transactions never on the decisions topic`,
      figures.poison_dead_lettered < figures.poison_sent &&
        `${figures.poison_sent - figures.poison_dead_lettered} poison messages not dead-lettered with their reason`,
      figures.stalled_partitions > 0 && `${figures.stalled_partitions} partitions left with lag`,
      figures.http_5xx > 0 && `${figures.http_5xx} HTTP answers were a 5xx other than 503`,
      ...harnessErrors.map((e) => `the harness failed a step: ${e}`),
    ].filter((x): x is string => typeof x === "string");
    const { services: _services, broker: _broker, log: _log, ...settings } = o;
    return {
      startedAt,
      options: { ...settings, brokerRestart: o.broker !== undefined },
      events,
      timeline,
      figures,
      broken,
      lostDetail,
      wrongDetail,
    };
  } finally {
    for (const t of timers) clearInterval(t);
    await Promise.all(procs.map((p) => p.stop()));
    await Promise.all(proxies.map((p) => p.close()));
    await db.end();
    await sandbox.cleanup();
  }
}

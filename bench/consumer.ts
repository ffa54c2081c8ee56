import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { Partitioners } from "kafkajs";
import pg from "pg";
import { seedProfiles, userId } from "../src/cli/seed.ts";
import { REPO_ROOT } from "../src/paths.ts";
import { pollUntil } from "../src/poll.ts";
import { prng } from "../src/random.ts";
import { createSandbox, type Sandbox, type Services } from "../src/stack/sandbox.ts";
import { createDatabasePool } from "../src/store/pool.ts";
import { createProfileStore } from "../src/store/profile-store.ts";
import { startNode } from "../test/support/processes.ts";
import { cpuSpent, machineBusyMs, sampleCpu, stackPids } from "./lib/cpu.ts";
import { type ConsumerPerf, consumerPerfTest } from "./lib/kafka-tools.ts";
import { benchServices, log } from "./lib/services.ts";
import { type StoreCeiling, storeCeiling } from "./lib/store-ceiling.ts";

/*
 * The scoring consumer's drain rate against Kafka's own consumer on the same topic: preload
 * `transactions` transactions over `users` seeded users, read them all once with
 * kafka-consumer-perf-test (the raw ceiling), then start one `sentinel consume` process and time
 * it until every decision is stored.
 */

const METRICS_PORT = 19464;

export type ConsumerBench = {
  users: number;
  transactions: number;
  raw: ConsumerPerf;
  scorer: {
    seconds: number;
    txPerSec: number;
    steadyTxPerSec: number;
    peakRssMiB: number;
    cacheHitRatio: number;
    cache: { hits: number; misses: number; fallbacks: number };
    /** Live decisions by outcome (reviews open cases, which costs the storing statement). */
    decisions: Record<string, number>;
    /** Seconds the rounds spent in each stage (queued is the oldest message's wait, not work). */
    stages: Record<string, number>;
    rounds: number;
    /** Cores each process of the stack used over the run (CPU seconds ÷ the run's seconds), and the machine's. */
    cores: Record<string, number>;
  };
  ratio: number;
  /** The same rows written by a bare loop with the same driver and statement (bench/lib/store-ceiling.ts). */
  storeCeiling: StoreCeiling;
  /** Scorer tx/s over the store ceiling's rows/s. */
  ratioOverStoreCeiling: number;
  /** `sentinel replay` of the whole drained topic (everything already stored), live group running. */
  replay: ReplayRun;
  /** `sentinel replay --redecide --dry-run` of the same range with a changed threshold. */
  redecideDryRun: ReplayRun;
};

export type ReplayRun = { messages: number; seconds: number; msgPerSec: number };

const exec = promisify(execFile);

/** Runs `sentinel replay --from earliest --json` and times the whole command, start-up included. */
async function timeReplay(env: Record<string, string>, extra: string[]): Promise<ReplayRun> {
  const started = Date.now();
  const { stdout } = await exec(
    process.execPath,
    [join(REPO_ROOT, "bin/sentinel.ts"), "replay", "--from", "earliest", "--json", "--no-progress", ...extra],
    { env: { ...process.env, ...env, LOG_LEVEL: "warn" }, maxBuffer: 16 * 1024 * 1024, timeout: 15 * 60_000 },
  );
  const seconds = (Date.now() - started) / 1000;
  const summary = JSON.parse(stdout.trim().split("\n").at(-1)!) as { read: number };
  return { messages: summary.read, seconds, msgPerSec: summary.read / seconds };
}

function metric(text: string, name: string): number {
  return text
    .split("\n")
    .filter((l) => l.startsWith(name))
    .reduce((s, l) => s + Number(l.split(" ").at(-1)), 0);
}

/** The scorer's rounds' seconds by stage (sentinel_scorer_stage_seconds), summed over its life. */
function stageSeconds(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^sentinel_scorer_stage_seconds_sum\{stage="(\w+)"\} (\S+)$/gm))
    out[m[1]!] = Number(m[2]);
  return out;
}

/** USD into each seeded market's currency (rounded mid-market rates; only their existence matters). */
const BENCH_FX_RATES =
  "USD:EUR=0.92,USD:GBP=0.79,USD:CAD=1.36,USD:JPY=151.2,USD:AUD=1.52,USD:BRL=5.05,USD:INR=83.4,USD:MXN=17.1,USD:CHF=0.88";

async function preload(
  kafka: import("kafkajs").Kafka,
  topic: string,
  count: number,
  users: number,
): Promise<void> {
  const rand = prng(3);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const start = Date.now() - 23 * 3_600_000;
  try {
    const batch = 5_000;
    for (let i = 0; i < count; i += batch) {
      const messages = [];
      for (let j = i; j < Math.min(count, i + batch); j++) {
        const user = userId(1 + Math.floor(rand() * users));
        messages.push({
          key: user,
          value: JSON.stringify({
            transaction_id: crypto.randomUUID(),
            user_id: user,
            amount: `${1 + Math.floor(rand() * 400)}.${String(Math.floor(rand() * 100)).padStart(2, "0")}`,
            currency: "USD",
            timestamp: new Date(start + Math.floor((j / count) * 22 * 3_600_000)).toISOString(),
            merchant_category: "5411",
            country: rand() < 0.9 ? "US" : "FR",
            channel: "ecommerce",
          }),
        });
      }
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

/** `sentinel consume` over the preloaded topic: its throughput, memory, cache and decision mix. The process is left running. */
export async function runScorer(sandbox: Sandbox, db: pg.Client, transactions: number) {
  log("sentinel consume (one process)");
  const started = Date.now();
  const proc = startNode(join(REPO_ROOT, "bin/sentinel.ts"), ["consume"], {
    ...sandbox.env,
    LOG_LEVEL: "warn",
    METRICS_PORT: String(METRICS_PORT),
    HOST: "127.0.0.1",
    // V8's heap flags for the scorer alone (docs/operations.md, "Memory limits"), e.g. "--max-old-space-size=160".
    ...(process.env.BENCH_SCORER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_SCORER_NODE_OPTIONS } : {}),
  });
  // Where the box's two cores go while the backlog is worked (the bench's own polling is left out).
  const roles = stackPids({ consumer: proc.child.pid });
  const [cpuBefore, machineBefore] = [sampleCpu(roles), machineBusyMs()];
  try {
    let done = 0;
    await pollUntil(
      async () => {
        done = Number((await db.query("SELECT count(*) AS n FROM decisions")).rows[0].n);
        return done >= transactions || proc.child.exitCode !== null;
      },
      { timeoutMs: 15 * 60_000, everyMs: 250 },
    );
    if (done < transactions && proc.child.exitCode !== null)
      throw new Error(`consumer exited: ${proc.output()}`);
    const seconds = (Date.now() - started) / 1000;
    const cores = Object.fromEntries(
      Object.entries({
        // Read the processes again: the scorer's PostgreSQL backends started after it (counted from zero).
        ...cpuSpent(cpuBefore, sampleCpu(stackPids({ consumer: proc.child.pid }))),
        machine: machineBusyMs() - machineBefore,
      }).map(([role, ms]) => [role, Math.round(ms / seconds / 10) / 100]),
    );
    const metrics = await (await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`)).text();
    const hits = metric(metrics, "sentinel_profile_cache_hits_total");
    const misses = metric(metrics, "sentinel_profile_cache_misses_total");
    const fallbacks = metric(metrics, "sentinel_profile_cache_fallbacks_total");
    const stages = stageSeconds(metrics);
    const { rows } = await db.query(
      "SELECT extract(epoch FROM max(stored_at) - min(stored_at)) AS s, count(*) AS n FROM transactions",
    );
    const steady = Number(rows[0].n) / Math.max(0.001, Number(rows[0].s));
    const { rows: mix } = await db.query<{ decision: string; n: number }>(
      "SELECT decision, count(*)::int AS n FROM decisions WHERE live GROUP BY decision",
    );
    const scorer = {
      seconds,
      txPerSec: done / seconds,
      steadyTxPerSec: steady,
      peakRssMiB: Math.round(proc.peakRssMiB()),
      cacheHitRatio: hits / Math.max(1, hits + misses + fallbacks),
      cache: { hits, misses, fallbacks },
      decisions: Object.fromEntries(mix.map((r) => [r.decision, r.n])),
      stages,
      // Every round is decoded (one with nothing valid in it stops there).
      rounds: metric(metrics, 'sentinel_scorer_stage_seconds_count{stage="decode"}'),
      cores,
    };
    log(
      `scorer rounds: ${scorer.rounds} (${Math.round(done / Math.max(1, scorer.rounds))} tx each); seconds by stage: ${Object.entries(
        stages,
      )
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(", ")}`,
    );
    log(
      `scorer: ${done} decisions in ${seconds.toFixed(1)} s = ${Math.round(scorer.txPerSec)} tx/s (steady ${Math.round(steady)} tx/s), peak RSS ${scorer.peakRssMiB} MiB`,
    );
    log(`scorer run: cores used by process ${JSON.stringify(cores)}`);
    if (done < transactions) throw new Error(`only ${done} of ${transactions} decisions stored in time`);
    return { scorer, proc };
  } catch (error) {
    await proc.stop();
    throw error;
  }
}

/** A sandbox with `users` seeded profiles and `transactions` preloaded on its topic (not consumed yet). */
export async function preparedSandbox(
  services: Services,
  users: number,
  transactions: number,
  overrides: Record<string, string> = {},
) {
  // The seeded users live in 13 markets and the transactions are in USD: without rates most would
  // be `currency_unconvertible` reviews, each opening a case — not the stream a scorer meets.
  const sandbox = await createSandbox(services, {
    prefix: "bench",
    overrides: { FX_RATES: BENCH_FX_RATES, ...overrides },
  });
  log(`seeding ${users} users`);
  const pool = await createDatabasePool(sandbox.config.database.url, { maxPoolSize: 2 });
  await seedProfiles(createProfileStore({ pool }), { users, progress: false });
  await pool.end();
  log(`preloading ${transactions} transactions`);
  await preload(sandbox.kafka, sandbox.config.kafka.topics.transactions, transactions, users);
  return sandbox;
}

export async function benchConsumer(
  services: Services,
  { users = 100_000, transactions = 200_000 } = {},
): Promise<ConsumerBench> {
  const sandbox = await preparedSandbox(services, users, transactions);
  const db = new pg.Client({ connectionString: sandbox.config.database.url });
  await db.connect();
  try {
    log("kafka-consumer-perf-test (raw ceiling)");
    const raw = consumerPerfTest(
      sandbox.config.kafka.brokers.join(","),
      sandbox.config.kafka.topics.transactions,
      transactions,
      `perf-${sandbox.id}`,
    );
    log(`raw: ${Math.round(raw.msgPerSec)} msg/s overall, ${Math.round(raw.fetchMsgPerSec)} msg/s fetching`);

    const { scorer, proc } = await runScorer(sandbox, db, transactions);
    try {
      log("sentinel replay --from earliest (all already stored; the live consumer still running)");
      const replay = await timeReplay(sandbox.env, []);
      log(
        `replay: ${replay.messages} messages in ${replay.seconds.toFixed(1)} s = ${Math.round(replay.msgPerSec)} msg/s`,
      );
      log("sentinel replay --redecide --dry-run (RULES_REVIEW_THRESHOLD=25)");
      const redecideDryRun = await timeReplay({ ...sandbox.env, RULES_REVIEW_THRESHOLD: "25" }, [
        "--redecide",
        "--dry-run",
      ]);
      log(
        `redecide dry run: ${redecideDryRun.messages} messages in ${redecideDryRun.seconds.toFixed(1)} s = ${Math.round(redecideDryRun.msgPerSec)} msg/s`,
      );
      log("persistence ceiling: the same rows, a bare storeDecided loop into an empty database");
      const ceiling = await storeCeiling(services, sandbox.config.database.url);
      log(
        `store ceiling: ${ceiling.rows} rows in ${ceiling.seconds.toFixed(1)} s = ${Math.round(ceiling.rowsPerSec)} rows/s; scorer/ceiling ${(scorer.txPerSec / ceiling.rowsPerSec).toFixed(3)}`,
      );
      return {
        users,
        transactions,
        raw,
        scorer,
        ratio: scorer.txPerSec / raw.msgPerSec,
        storeCeiling: ceiling,
        ratioOverStoreCeiling: scorer.txPerSec / ceiling.rowsPerSec,
        replay,
        redecideDryRun,
      };
    } finally {
      await proc.stop();
    }
  } finally {
    await db.end();
    await sandbox.cleanup();
  }
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const r = await benchConsumer(await benchServices(), quick ? { users: 10_000, transactions: 20_000 } : {});
  console.log(JSON.stringify(r, null, 2));
  console.log(`scorer_tx_per_sec=${Math.round(r.scorer.txPerSec)} (target >= 20000)`);
  console.log(`raw_consumer_msg_per_sec=${Math.round(r.raw.msgPerSec)}`);
  console.log(`scorer_over_raw=${r.ratio.toFixed(3)} (target >= 0.3)`);
  console.log(`scorer_peak_rss_mib=${r.scorer.peakRssMiB} (target <= 256)`);
  console.log(
    `scorer_run_cores=${Object.entries(r.scorer.cores)
      .map(([k, v]) => `${k}:${v}`)
      .join(",")}`,
  );
  console.log(`scorer_decisions=${JSON.stringify(r.scorer.decisions)}`);
  console.log(`store_ceiling_rows_per_sec=${Math.round(r.storeCeiling.rowsPerSec)}`);
  console.log(`ratio_scorer_over_store_ceiling=${r.ratioOverStoreCeiling.toFixed(3)} (target >= 0.5)`);
  console.log(`replay_msg_per_sec=${Math.round(r.replay.msgPerSec)}`);
  console.log(`redecide_dry_run_msg_per_sec=${Math.round(r.redecideDryRun.msgPerSec)}`);
}

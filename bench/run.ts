import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { createSandbox } from "../src/stack/sandbox.ts";
import { benchConsumer } from "./consumer.ts";
import { benchDetection, detectionLines } from "./detection.ts";
import { benchNoisyDetection, noisyLines } from "./detection-noisy.ts";
import { benchE2e, e2eLines } from "./e2e.ts";
import { benchHotUser } from "./hot-user.ts";
import { benchIngest, ingestCpuLines } from "./ingest.ts";
import { producerPerfTest } from "./lib/kafka-tools.ts";
import { benchServices, log } from "./lib/services.ts";
import { benchPanScan } from "./pan-scan.ts";
import { type BenchReport, writeReport } from "./report.ts";
import { benchRules } from "./rules.ts";
import { benchStorage, storageLines } from "./storage.ts";
import { benchTrain } from "./train.ts";
import { benchWebhooks, webhooksLines } from "./webhooks.ts";

/*
 * `npm run bench [-- --quick]`: every stage beside its baseline in one run, then
 * bench/results/<timestamp>.json, bench/results/latest.md (with SVG charts) and, last, one
 * `name=value` line per figure for scripts. --quick is a smoke run of under three minutes.
 */

const quick = process.argv.includes("--quick");
if (process.argv.includes("--secure")) {
  // The secured stack beside the plain one, alone (bench/secure.ts): closing lines secure_*.
  const { benchSecure, secureLines } = await import("./secure.ts");
  const b = await benchSecure(quick ? { seconds: 5, rounds: 1 } : {});
  for (const [k, v] of Object.entries(secureLines(b))) console.log(`${k}=${v}`);
  process.exit(0);
}
const startedAt = new Date().toISOString();
const services = await benchServices();

log(`HTTP ingest vs bare server${quick ? " (quick)" : ""}`);
const ingest = await benchIngest(services, quick ? { saturationSeconds: 5, rateSeconds: 5, rounds: 1 } : {});

log("Kafka raw producer (kafka-producer-perf-test)");
const sandbox = await createSandbox(services, { prefix: "bench" });
let kafkaProducer: BenchReport["kafkaProducer"];
try {
  kafkaProducer = producerPerfTest(
    services.kafkaBrokers,
    sandbox.config.kafka.topics.transactions,
    quick ? 50_000 : 500_000,
    300,
  );
} finally {
  await sandbox.cleanup();
}
log(`raw producer: ${Math.round(kafkaProducer.recordsPerSec)} msg/s`);

log("scoring consumer vs raw consumer");
const consumer = await benchConsumer(services, quick ? { users: 10_000, transactions: 20_000 } : {});

log("rules: interpreted (the default rule set) vs the compiled rules it replaced");
const rules = benchRules(quick ? 20_000 : 100_000);

log("a user's history: the cost per transaction at 0, 10,000 and 100,000 earlier ones");
const hotUser = await benchHotUser(services, quick ? { perSize: 200 } : {});

log("end to end");
const e2e = await benchE2e(services, quick ? { seconds: 5 } : {});

log("webhooks: deliveries per second, and decision to delivery at 500/s");
const webhooks = await benchWebhooks(services, quick ? { deliveries: 5_000, seconds: 10 } : {});

log("detection: a simulated month against its truth (the default rules, then rules + a model)");
const detection = await benchDetection(services, quick ? { users: 1_000 } : {});
log("detection on the noisy world: three seeds (issue 36)");
const noisy = await benchNoisyDetection(services, benchDetection, quick ? { users: 1_000 } : {});

log("the card-number scan of a request body (plain, rich, non-ASCII)");
const panScan = benchPanScan(quick ? 50_000 : 200_000);

log("storage: bytes per stored transaction, and the tables over 60 simulated days under a 30-day retention");
const storage = await benchStorage(quick ? { perDay: 2_000 } : {});

log("model training: sentinel model train on a simulated month (full: 1,000,000 transactions)");
const training = await benchTrain(quick ? { users: 2_000 } : {});

const report: BenchReport = {
  startedAt,
  quick,
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kafka: "4.4.0",
  },
  ingest,
  kafkaProducer,
  consumer,
  e2e,
  hotUser,
  webhooks,
  detection,
};
const written = await writeReport(report, join(import.meta.dirname, "results"));
log(`wrote ${written.json} and ${written.markdown}`);

const lines = {
  ingest_rps: Math.round(ingest.ingest.saturation.rps),
  bare_http_rps: Math.round(ingest.bare.saturation.rps),
  ratio_ingest_over_bare: ingest.ratio.toFixed(3),
  ingest_p99_ms_at_1000: ingest.ingest.rates["1000"]?.latencyMs.p99,
  ...ingestCpuLines(ingest),
  kafka_producer_msg_per_sec: Math.round(kafkaProducer.recordsPerSec),
  scorer_tx_per_sec: Math.round(consumer.scorer.txPerSec),
  raw_consumer_msg_per_sec: Math.round(consumer.raw.msgPerSec),
  ratio_scorer_over_raw_consumer: consumer.ratio.toFixed(3),
  scorer_peak_rss_mib: consumer.scorer.peakRssMiB,
  store_ceiling_rows_per_sec: Math.round(consumer.storeCeiling.rowsPerSec),
  ratio_scorer_over_store_ceiling: consumer.ratioOverStoreCeiling.toFixed(3),
  cache_hit_ratio: consumer.scorer.cacheHitRatio.toFixed(3),
  replay_msg_per_sec: Math.round(consumer.replay.msgPerSec),
  ratio_replay_over_scorer: (consumer.replay.msgPerSec / consumer.scorer.txPerSec).toFixed(3),
  redecide_dry_run_msg_per_sec: Math.round(consumer.redecideDryRun.msgPerSec),
  rules_compiled_tx_per_sec: Math.round(rules.compiledTxPerSec),
  rules_interpreted_tx_per_sec: Math.round(rules.interpretedTxPerSec),
  // The interpreter's extra CPU per transaction, as a share of the scorer's time per transaction.
  rules_interpreted_cost_share_of_scorer: (
    (1 / rules.interpretedTxPerSec - 1 / rules.compiledTxPerSec) *
    consumer.scorer.txPerSec
  ).toFixed(4),
  rules_with_model_tx_per_sec: Math.round(rules.withModelTxPerSec),
  model_inference_us_per_tx: rules.modelMicrosPerTx.toFixed(2),
  model_train_rows: training.rows,
  model_train_seconds: training.seconds,
  model_train_peak_rss_mib: training.peakRssMib,
  hot_user_cost_ratio_100k: hotUser.costRatio100k,
  ...e2eLines(e2e),
  ...webhooksLines(webhooks),
  ...detectionLines(detection),
  ...panScan,
  ...storageLines(storage),
  ...noisyLines(noisy),
};
for (const [k, v] of Object.entries(lines)) console.log(`${k}=${v}`);

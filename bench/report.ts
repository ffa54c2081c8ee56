import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TopLevelSpec } from "vega-lite";
import type { ConsumerBench } from "./consumer.ts";
import { type DetectionReport, detectionChart, detectionTable } from "./detection.ts";
import type { E2eRate, E2eRun } from "./e2e.ts";
import type { HotUser } from "./hot-user.ts";
import type { IngestBench } from "./ingest.ts";
import { svg } from "./lib/charts.ts";
import type { ProducerPerf } from "./lib/kafka-tools.ts";
import type { WebhooksBench } from "./webhooks.ts";

/* The benchmark report: JSON for scripts, Markdown with SVG charts (vega-lite) for people. */

export type BenchReport = {
  startedAt: string;
  quick: boolean;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; kafka: string };
  ingest: IngestBench;
  kafkaProducer: ProducerPerf;
  consumer: ConsumerBench;
  e2e: E2eRun;
  hotUser: HotUser;
  webhooks: WebhooksBench;
  detection: DetectionReport;
};

const round = (n: number) => Math.round(n);

/** Latency percentiles (one line per series) against the request rate. */
function latencyChart(
  title: string,
  values: Array<{ rate: number; series: string; ms: number }>,
  rateTitle: string,
  logScale: boolean,
): TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: 420,
    height: 220,
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "rate", type: "ordinal", title: rateTitle },
      y: logScale
        ? { field: "ms", type: "quantitative", title: "ms (log scale)", scale: { type: "log" } }
        : { field: "ms", type: "quantitative", title: "ms" },
      color: { field: "series", type: "nominal", title: null },
    },
  };
}

const STAGES = [
  "sync ack",
  "sync decide",
  "sync deliver",
  "scorer queued",
  "scorer decode",
  "scorer load_context",
  "scorer decide",
  "scorer persist",
  "scorer publish",
];

function stageCell(r: E2eRate, column: string): string {
  const [side, stage] = column.split(" ") as ["sync" | "scorer", string];
  const t = r.stages?.[side]?.[stage];
  return t ? `${t.p50} / ${t.p99}` : "—";
}

export async function writeReport(
  report: BenchReport,
  dir: string,
): Promise<{ json: string; markdown: string }> {
  const stamp = report.startedAt.replace(/[:.]/g, "-");
  const json = join(dir, `${stamp}.json`);
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);

  const { ingest, consumer, kafkaProducer } = report;
  const e2e = report.e2e.rates;
  const throughput = [
    { stage: "HTTP ingest (req/s)", run: "SentinelStream", value: round(ingest.ingest.saturation.rps) },
    {
      stage: "HTTP ingest (req/s)",
      run: "baseline: bare Fastify + zod",
      value: round(ingest.bare.saturation.rps),
    },
    { stage: "Scoring (tx/s)", run: "SentinelStream", value: round(consumer.scorer.txPerSec) },
    {
      stage: "Scoring (tx/s)",
      run: "baseline: kafka-consumer-perf-test",
      value: round(consumer.raw.msgPerSec),
    },
    {
      stage: "Kafka produce (msg/s)",
      run: "baseline: kafka-producer-perf-test",
      value: round(kafkaProducer.recordsPerSec),
    },
  ];
  const latency = [
    ...Object.entries(ingest.bare.rates).flatMap(([rate, r]) =>
      (["p50", "p90", "p99"] as const).map((p) => ({
        rate: Number(rate),
        series: `bare ${p}`,
        ms: r.latencyMs[p],
      })),
    ),
    ...Object.entries(ingest.ingest.rates).flatMap(([rate, r]) =>
      (["p50", "p90", "p99"] as const).map((p) => ({
        rate: Number(rate),
        series: `ingest ${p}`,
        ms: r.latencyMs[p],
      })),
    ),
  ];
  const endToEnd = e2e.flatMap((r) =>
    (["p50", "p90", "p99"] as const).map((p) => ({ rate: r.rate, series: p, ms: r.latencyMs[p] })),
  );

  const charts = {
    throughput: await svg({
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: "Throughput per stage against its baseline (same machine, same run)",
      data: { values: throughput },
      facet: {
        row: { field: "stage", type: "nominal", title: null, header: { labelAngle: 0, labelAlign: "left" } },
      },
      spec: {
        width: 420,
        height: 50,
        mark: "bar",
        encoding: {
          y: { field: "run", type: "nominal", title: null, axis: { labelLimit: 300 } },
          x: { field: "value", type: "quantitative", title: "per second" },
          color: { field: "run", type: "nominal", legend: null },
        },
      },
      resolve: { scale: { x: "independent", y: "independent" } },
    }),
    httpLatency: await svg(
      latencyChart("HTTP latency at fixed rates: ingest vs bare server (ms)", latency, "requests/s", false),
    ),
    e2eLatency: await svg(
      latencyChart("End to end: request sent → decision published (ms)", endToEnd, "transactions/s", true),
    ),
    detection: await detectionChart(report.detection),
  };
  for (const [name, text] of Object.entries(charts)) writeFileSync(join(dir, `latest-${name}.svg`), text);

  const m = report.machine;
  const rows = (obj: Record<string, { latencyMs: { p50: number; p90: number; p99: number; max: number } }>) =>
    Object.entries(obj)
      .map(
        ([rate, r]) =>
          `| ${rate} | ${r.latencyMs.p50} | ${r.latencyMs.p90} | ${r.latencyMs.p99} | ${r.latencyMs.max} |`,
      )
      .join("\n");
  const markdown = join(dir, "latest.md");
  writeFileSync(
    markdown,
    `# SentinelStream benchmark — ${report.startedAt}${report.quick ? " (quick)" : ""}

Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, Kafka ${m.kafka} (one node, KRaft),
PostgreSQL, Redis, the load generators and SentinelStream all on it. Raw data: \`${stamp}.json\`.

![throughput](latest-throughput.svg)

| stage | SentinelStream | baseline | ratio | target |
| --- | --- | --- | --- | --- |
| HTTP ingest, saturation (wrk, 64 connections) | ${round(ingest.ingest.saturation.rps)} req/s | ${round(ingest.bare.saturation.rps)} req/s (bare Fastify + zod) | ${ingest.ratio.toFixed(2)} | ≥ 0.6 and ≥ 10,000 req/s |
| Scoring consumer, drain to stored decisions (${consumer.transactions.toLocaleString("en")} tx, ${consumer.users.toLocaleString("en")} users, 1 process) | ${round(consumer.scorer.txPerSec)} tx/s (steady ${round(consumer.scorer.steadyTxPerSec)}) | ${round(consumer.raw.msgPerSec)} msg/s (kafka-consumer-perf-test) | ${consumer.ratio.toFixed(3)} | ≥ 0.3 and ≥ 10,000 tx/s |
| \`sentinel replay\` of the drained topic (all already stored, live consumer running; whole command) | ${round(consumer.replay.msgPerSec)} msg/s | ${round(consumer.scorer.txPerSec)} tx/s (live scoring, above) | ${(consumer.replay.msgPerSec / consumer.scorer.txPerSec).toFixed(2)} | — |
| \`sentinel replay --redecide --dry-run\` of the same range | ${round(consumer.redecideDryRun.msgPerSec)} msg/s | ${round(consumer.scorer.txPerSec)} tx/s | ${(consumer.redecideDryRun.msgPerSec / consumer.scorer.txPerSec).toFixed(2)} | — |
| Kafka produce, ${"~300"} B records, acks=all | — | ${round(kafkaProducer.recordsPerSec)} msg/s (kafka-producer-perf-test) | — | — |

Consumer: peak RSS ${consumer.scorer.peakRssMiB} MiB (target ≤ 256), profile cache hit ratio
${(consumer.scorer.cacheHitRatio * 100).toFixed(1)} % (each user is seen about ${(consumer.transactions / consumer.users).toFixed(0)} times, so the first sight is a miss).
Ingest peak RSS ${ingest.ingest.peakRssMiB} MiB.

![HTTP latency](latest-httpLatency.svg)

HTTP latency at fixed rates (autocannon, corrected for coordinated omission), ms:

| ingest rate | p50 | p90 | p99 | max |
| --- | --- | --- | --- | --- |
${rows(ingest.ingest.rates)}

| bare rate | p50 | p90 | p99 | max |
| --- | --- | --- | --- | --- |
${rows(ingest.bare.rates)}

![end to end](latest-e2eLatency.svg)

End to end (\`sentinel ingest\` + \`sentinel consume\`: request sent → decision on \`transactions.decisions\`), ms:

The median of ${e2e[0]?.rounds.length ?? 0} rounds per rate (by p99), with every round's p99 beside it, and the CPU time
of every process of the stack (ingress, consumer, broker, PostgreSQL, Redis) per decided transaction:

| rate | sent | decided | p50 | p90 | p99 | max | p99 of each round | CPU ms/tx | CPU by process (ms/tx) |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${e2e
  .map(
    (r) =>
      `| ${r.rate} | ${r.sent} | ${r.decided} | ${r.latencyMs.p50} | ${r.latencyMs.p90} | ${r.latencyMs.p99} | ${r.latencyMs.max} | ${r.rounds.map((x) => x.p99).join(" · ")} | ${r.cpuMsPerTx} | ${Object.entries(
        r.cpuMsPerTxByRole,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")} |`,
  )
  .join("\n")}

Peak RSS during the end-to-end stage: ingress ${report.e2e.ingressPeakRssMiB} MiB (target ≤ 192), consumer ${report.e2e.consumerPeakRssMiB} MiB.

Where the time goes, per stage (p50 / p99 ms, from the processes' own histograms; sync: received →
Kafka's ack → the scorer's decided_at → answered; scorer: per round):

| rate | ${STAGES.join(" | ")} |
| --- | ${STAGES.map(() => "---").join(" | ")} |
${e2e.map((r) => `| ${r.rate} | ${STAGES.map((s) => stageCell(r, s)).join(" | ")} |`).join("\n")}

A user's history (issue 21): new transactions of a user with that many earlier ones in the window,
scored through the real round (PostgreSQL, default rules), 100 a round — cost at 100,000 over the
cost at 0: **${report.hotUser.costRatio100k}** (target ≤ 2).

| earlier transactions | ms per transaction | history rows read per transaction |
| --- | --- | --- |
${report.hotUser.sizes.map((h) => `| ${h.history} | ${h.msPerTx} | ${h.historyRowsPerTx} |`).join("\n")}

Webhooks (issue 23): one \`sentinel webhooks\` process delivering ${report.webhooks.deliveries} decisions to one
receiver on loopback: **${report.webhooks.deliveriesPerSec} deliveries/s** (target ≥ 2,000), peak RSS
**${report.webhooks.peakRssMiB} MiB** (target ≤ 100). Decision to delivery with ingest, consume and webhooks
as three processes at ${report.webhooks.rate} transactions/s: p50 ${report.webhooks.latencyMs.p50} ms, p90
${report.webhooks.latencyMs.p90} ms, p99 **${report.webhooks.latencyMs.p99} ms**, max ${report.webhooks.latencyMs.max} ms
(${report.webhooks.delivered} of ${report.webhooks.sent} delivered).

Detection (issue 24): a simulated month through the scorer, the default rules against the truth
(flagged = review or decline), then the default rules + a model trained on days 1–20 (backtest):

${detectionTable(report.detection)}

![detection](latest-detection.svg)
`,
  );
  return { json, markdown };
}

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TopLevelSpec } from "vega-lite";
import { svg as renderSvg } from "../bench/lib/charts.ts";
import { longestCommitGap } from "./checker.ts";
import type { ChaosResult } from "./types.ts";

/*
 * The chaos run's report: `chaos-<ts>.json` (everything), `chaos-<ts>.svg` (the timeline: offered
 * and consumed throughput, the group's lag, the faults marked) and `chaos-<ts>.md` (figures beside
 * the laws, the fault log, the chart).
 */

/** Per-interval rates from the cumulative samples: accepted/s (ingress) and committed/s (scorers). */
function timelineRates(result: ChaosResult) {
  const rows: Array<{ t: number; series: string; value: number }> = [];
  const lag: Array<{ t: number; lag: number | null }> = [];
  let prev: ChaosResult["timeline"][number] | undefined;
  let prevCommitted: { atS: number; committed: number } | undefined;
  for (const s of result.timeline) {
    lag.push({ t: s.atS, lag: s.lag });
    if (prev && s.atS > prev.atS)
      rows.push({
        t: s.atS,
        series: "accepted/s",
        value: Math.round((s.accepted - prev.accepted) / (s.atS - prev.atS)),
      });
    if (s.committed !== null) {
      if (prevCommitted && s.atS > prevCommitted.atS)
        rows.push({
          t: s.atS,
          series: "scored/s (committed offsets)",
          value: Math.round((s.committed - prevCommitted.committed) / (s.atS - prevCommitted.atS)),
        });
      prevCommitted = { atS: s.atS, committed: s.committed };
    }
    prev = s;
  }
  return { rows, lag };
}

function timelineSpec(result: ChaosResult): TopLevelSpec {
  const { rows, lag } = timelineRates(result);
  const faults = result.events.filter((e) => e.kind === "fault").map((e) => ({ t: e.atS, name: e.name }));
  const x = { field: "t", type: "quantitative" as const, title: "seconds since the run started" };
  const rule = {
    data: { values: faults },
    mark: { type: "rule" as const, color: "#c0392b", strokeDash: [4, 3] },
    encoding: { x },
  };
  const label = {
    data: { values: faults },
    mark: {
      type: "text" as const,
      color: "#c0392b",
      angle: 270,
      align: "right" as const,
      baseline: "bottom" as const,
      dx: -4,
      dy: -2,
      fontSize: 9,
    },
    encoding: { x, y: { value: 0 }, text: { field: "name" } },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `Chaos run, seed ${result.options.seed}: throughput and lag, faults marked`,
    vconcat: [
      {
        width: 640,
        height: 200,
        layer: [
          {
            data: { values: rows },
            mark: { type: "line", interpolate: "step-before" },
            encoding: {
              x,
              y: { field: "value", type: "quantitative", title: "per second" },
              color: {
                field: "series",
                type: "nominal",
                title: null,
                legend: { orient: "top", labelLimit: 400 },
              },
            },
          },
          rule,
          label,
        ],
      },
      {
        width: 640,
        height: 140,
        layer: [
          {
            data: { values: lag },
            mark: { type: "line", color: "#555", point: { size: 8 } },
            encoding: {
              x,
              y: { field: "lag", type: "quantitative", title: "group lag (messages)" },
            },
          },
          rule,
        ],
      },
    ],
  };
}

const LAWS: Array<[keyof ChaosResult["figures"], string, string]> = [
  ["lost", "0", "an accepted transaction (202/200, or acked by Kafka) is stored"],
  ["duplicated", "0", "… exactly once, with exactly one live decision"],
  ["wrong_decisions", "0", "every decision equals the oracle's, computed from the topic order"],
  ["unpublished", "0", "the decisions topic holds each accepted transaction at least once"],
  ["poison_dead_lettered", "= poison_sent", "poison is dead-lettered with its reason, never stalls"],
  ["stalled_partitions", "0", "no partition is left with lag"],
  ["http_5xx", "0", "no HTTP answer is a 5xx other than 503 (fuzzed bodies included)"],
];

export async function writeChaosReport(result: ChaosResult, dir: string) {
  const stamp = `chaos-${result.startedAt.replace(/[:.]/g, "-")}`;
  const json = join(dir, `${stamp}.json`);
  writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  const svg = join(dir, `${stamp}.svg`);
  writeFileSync(svg, await renderSvg(timelineSpec(result)));
  const f = result.figures;
  const o = result.options;
  const markdown = join(dir, `${stamp}.md`);
  writeFileSync(
    markdown,
    `# Chaos run — ${result.startedAt}

Seed ${o.seed}: ${o.total.toLocaleString("en")} transactions for ${o.users.toLocaleString("en")} users offered at
${o.rate}/s (90% HTTP to two ingress processes, 10% straight to Kafka), three consumers,
${f.fuzz_bodies.toLocaleString("en")} fuzzed bodies, ${f.profile_rewrites} profile rewrites. Faults: ${f.faults_injected}
(PostgreSQL and Redis cut ${o.cutMs / 1000} s, PostgreSQL delayed ${o.delayMs} ms each way for ${o.delayForMs / 1000} s,
${o.consumerKills} consumer SIGKILL(s), an ingress SIGKILL, ${o.brokerRestart ? "the broker SIGKILLed and restarted" : "no broker restart (no broker the harness may kill)"}).
Raw data: \`${stamp}.json\`.

**${result.broken.length === 0 ? "Every law held." : `Broken: ${result.broken.join("; ")}.`}**

| law | promise | measured |
| --- | --- | --- |
${LAWS.map(([k, want, law]) => `| ${law} | \`${k}\` ${want} | ${f[k]} |`).join("\n")}

Accepted ${f.accepted.toLocaleString("en")}; max lag ${f.max_lag.toLocaleString("en")} messages; the pipeline flowed
again (consumers committing, ingress accepting) ${f.recovery_s_after_broker_restart} s after the broker was restarted
(one broker), ${f.recovery_s_after_broker_kill} s at most after a broker of the cluster was killed (not restarted first);
a consumer's SIGKILL stalled its partitions for up to ${f.stall_s_after_consumer_kill} s; the longest stretch without a
commit while there was lag: ${f.max_commit_gap_s} s${gapWhere(result)}.

![timeline](${stamp}.svg)

| t (s) | event |
| --- | --- |
${result.events.map((e) => `| ${e.atS} | ${e.kind === "fault" ? "**" : ""}${e.name}${e.kind === "fault" ? "**" : ""} |`).join("\n")}
${[...result.lostDetail, ...result.wrongDetail].map((l) => `- ${l}`).join("\n")}
`,
  );
  return { json, svg, markdown };
}

/** Where the longest commit gap lay, and the faults that began in it or were still on then. */
function gapWhere(result: ChaosResult): string {
  const gap = longestCommitGap(result.timeline);
  if (gap.seconds === 0) return "";
  const during = result.events.filter(
    (e) => e.kind === "fault" && e.atS <= gap.toS && e.atS >= gap.fromS - 15,
  );
  const names = during.map((e) => `${e.name} at ${e.atS}`).join("; ");
  return `, from t=${gap.fromS} s to t=${gap.toS} s${names ? ` (faults from 15 s before it: ${names})` : ""}`;
}

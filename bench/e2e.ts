import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { REPO_ROOT } from "../src/paths.ts";
import { createSandbox, type Services } from "../src/stack/sandbox.ts";
import { freePorts } from "../test/support/ports.ts";
import { startNode, waitForHttp } from "../test/support/processes.ts";
import { benchServices, log } from "./lib/services.ts";
import { type Buckets, parseBuckets, type StageTimes, stageTimes } from "./lib/stages.ts";

/*
 * End to end, as a payment gateway sees it: POST /transaction with `Prefer: wait=1` at a fixed rate
 * against `sentinel ingest` + `sentinel consume` (two processes, as deployed), and the time from
 * sending each request to its `200` with the decision (stored and published before the answer).
 * A request not decided within the wait (202) counts against the decided ratio. Sender in this
 * process; the pipeline in its own.
 */

const PORT = 18083;

export type E2eRate = {
  rate: number;
  sent: number;
  /** Answered 200 or 202 (durable). */
  accepted: number;
  /** Answered 200 with the decision within the wait. */
  decided: number;
  decidedRatio: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Where the time went at this rate, from the processes' stage histograms (ms). */
  stages: { sync: StageTimes; scorer: StageTimes };
};

/** Both processes' stage histograms now. */
async function scrapeStages(
  ingestPort: number,
  consumerPort: number,
): Promise<{ sync: Buckets; scorer: Buckets }> {
  const [ingest, consumer] = await Promise.all(
    [ingestPort, consumerPort].map(async (port) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text()),
  );
  return {
    sync: parseBuckets(ingest!, "sentinel_sync_stage_seconds"),
    scorer: parseBuckets(consumer!, "sentinel_scorer_stage_seconds"),
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function benchE2e(
  services: Services,
  { rates = [500, 1000, 2000], seconds = 10 } = {},
): Promise<E2eRate[]> {
  const sandbox = await createSandbox(services, { prefix: "bench" });
  const env = { ...sandbox.env, PORT: String(PORT), HOST: "127.0.0.1", LOG_LEVEL: "warn" };
  const metricsPort = await freePorts();
  // Ingest and consumer as two processes, as deployed (one event loop each).
  const procs = [
    startNode(join(REPO_ROOT, "bin/sentinel.ts"), ["ingest"], env),
    startNode(join(REPO_ROOT, "bin/sentinel.ts"), ["consume"], { ...env, METRICS_PORT: String(metricsPort) }),
  ];
  const latencies: number[] = [];
  try {
    await waitForHttp(`http://127.0.0.1:${PORT}/readyz`);
    await waitForHttp(`http://127.0.0.1:${metricsPort}/healthz`);
    // A warm-up round first, not reported: the scorer and the ingress's decision listener join
    // their groups, JIT and pools settle.
    const results: E2eRate[] = [];
    const rounds = [{ rate: 200, warmUp: true }, ...rates.map((rate) => ({ rate, warmUp: false }))];
    for (const { rate, warmUp } of rounds) {
      latencies.length = 0;
      let sent = 0;
      let accepted = 0;
      const tickMs = 10;
      const perTick = rate / (1000 / tickMs);
      const before = await scrapeStages(PORT, metricsPort);
      const started = performance.now();
      const inflight: Promise<void>[] = [];
      // A fixed schedule: tick i sends until i·perTick requests are out, whatever the answers do.
      for (let tick = 1; performance.now() - started < seconds * 1000; tick++) {
        while (sent < tick * perTick) {
          const id = randomUUID();
          sent++;
          const t0 = performance.now();
          inflight.push(
            fetch(`http://127.0.0.1:${PORT}/transaction`, {
              method: "POST",
              headers: { "content-type": "application/json", prefer: "wait=1" },
              body: JSON.stringify({
                transaction_id: id,
                user_id: `e2e-${sent % 5000}`,
                amount: "12.34",
                currency: "USD",
                country: "US",
              }),
            }).then(
              async (r) => {
                await r.arrayBuffer();
                if (r.status === 200) latencies.push(performance.now() - t0);
                if (r.status === 200 || r.status === 202) accepted++;
              },
              () => {},
            ),
          );
        }
        const wait = started + tick * tickMs - performance.now();
        if (wait > 0) await sleep(wait);
      }
      await Promise.all(inflight);
      const after = await scrapeStages(PORT, metricsPort);
      const sorted = [...latencies].sort((a, b) => a - b);
      const r: E2eRate = {
        rate,
        sent,
        accepted,
        decided: sorted.length,
        decidedRatio: Math.round((sorted.length / Math.max(1, sent)) * 10_000) / 10_000,
        latencyMs: {
          p50: Math.round(percentile(sorted, 50) * 10) / 10,
          p90: Math.round(percentile(sorted, 90) * 10) / 10,
          p99: Math.round(percentile(sorted, 99) * 10) / 10,
          max: Math.round((sorted.at(-1) ?? Number.NaN) * 10) / 10,
        },
        stages: {
          sync: stageTimes(before.sync, after.sync),
          scorer: stageTimes(before.scorer, after.scorer),
        },
      };
      if (warmUp) {
        log(`warm-up at ${rate}/s: ${r.decided}/${r.sent} decided (not reported)`);
        continue;
      }
      log(
        `sync e2e at ${rate}/s: ${r.decided}/${r.sent} decided within 1 s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms`,
      );
      const line = (t: StageTimes) =>
        Object.entries(t)
          .map(([k, v]) => `${k} ${v.p50}/${v.p99}`)
          .join(", ");
      log(
        `  stages p50/p99 ms — sync request: ${line(r.stages.sync)}; scorer round: ${line(r.stages.scorer)}`,
      );
      results.push(r);
    }
    return results;
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await sandbox.cleanup();
  }
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const i = process.argv.indexOf("--rates");
  const rates = i > 0 ? process.argv[i + 1]!.split(",").map(Number) : undefined;
  const r = await benchE2e(await benchServices(), {
    ...(quick ? { seconds: 5 } : {}),
    ...(rates ? { rates } : {}),
  });
  console.log(JSON.stringify(r, null, 2));
  for (const x of r) {
    console.log(`sync_p50_ms_at_${x.rate}=${x.latencyMs.p50}`);
    console.log(`sync_p99_ms_at_${x.rate}=${x.latencyMs.p99}`);
    console.log(`sync_decided_ratio_at_${x.rate}=${x.decidedRatio}`);
  }
}

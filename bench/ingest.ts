import { join } from "node:path";
import { REPO_ROOT } from "../src/paths.ts";
import { createSandbox, type Services } from "../src/stack/sandbox.ts";
import { startNode, waitForHttp } from "../test/support/processes.ts";
import { fixedRate, type LoadResult } from "./lib/http-load.ts";
import { benchServices, log } from "./lib/services.ts";
import { ensureWrk, wrkSaturate } from "./lib/wrk.ts";

/*
 * HTTP ingest against its ceiling: the bare Fastify + zod server (bench/bare-server.ts) and the
 * real ingress (`sentinel ingest`, producing to Kafka with acks=all), one after the other on the
 * same machine with the same load tools and bodies: saturation throughput (wrk), then latency at
 * fixed rates (autocannon, corrected for coordinated omission).
 */

const BARE_PORT = 18081;
const INGEST_PORT = 18082;

export type IngestBench = {
  saturationSeconds: number;
  rateSeconds: number;
  bare: { saturation: LoadResult; rates: Record<string, LoadResult> };
  ingest: { saturation: LoadResult; rates: Record<string, LoadResult>; peakRssMiB: number };
  ratio: number;
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchIngest(
  services: Services,
  { saturationSeconds = 10, rateSeconds = 10, rates = [500, 1000, 2000], rounds = 3 } = {},
): Promise<IngestBench> {
  ensureWrk();
  const sandbox = await createSandbox(services, { prefix: "bench" });
  const bareProc = startNode(join(REPO_ROOT, "bench/bare-server.ts"), [String(BARE_PORT)], {});
  const ingestProc = startNode(join(REPO_ROOT, "bin/sentinel.ts"), ["ingest"], {
    ...sandbox.env,
    PORT: String(INGEST_PORT),
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
  });
  try {
    const servers = {
      bare: `http://127.0.0.1:${BARE_PORT}`,
      ingest: `http://127.0.0.1:${INGEST_PORT}`,
    };
    await waitForHttp(`${servers.bare}/healthz`);
    await waitForHttp(`${servers.ingest}/readyz`);
    // Both servers run side by side (an idle one costs nothing) and are measured in alternation,
    // so a slow minute of this shared machine hits both; each figure is the median of the rounds.
    for (const url of Object.values(servers)) wrkSaturate(url, 3); // warm-up: JIT, connections, producer
    const runs: Record<"bare" | "ingest", LoadResult[]> = { bare: [], ingest: [] };
    for (let round = 0; round < rounds; round++) {
      for (const name of ["bare", "ingest"] as const) {
        const r = wrkSaturate(servers[name], saturationSeconds);
        log(
          `${name} round ${round + 1}: ${Math.round(r.rps)} req/s (non-2xx ${r.non2xx}, errors ${r.errors})`,
        );
        runs[name].push(r);
      }
    }
    const pick = (name: "bare" | "ingest") => {
      const m = median(runs[name].map((r) => r.rps));
      return runs[name].find((r) => r.rps === m)!;
    };
    const byRate: Record<"bare" | "ingest", Record<string, LoadResult>> = { bare: {}, ingest: {} };
    for (const rate of rates) {
      for (const name of ["bare", "ingest"] as const) {
        const r = await fixedRate(servers[name], rate, rateSeconds);
        byRate[name][rate] = r;
        const l = r.latencyMs;
        log(`${name} at ${rate} req/s: p50 ${l.p50} ms, p90 ${l.p90} ms, p99 ${l.p99} ms, max ${l.max} ms`);
      }
    }
    const bare = { saturation: pick("bare"), rates: byRate.bare };
    const ingest = {
      saturation: pick("ingest"),
      rates: byRate.ingest,
      peakRssMiB: Math.round(ingestProc.peakRssMiB()),
    };
    return {
      saturationSeconds,
      rateSeconds,
      bare,
      ingest,
      ratio: ingest.saturation.rps / bare.saturation.rps,
    };
  } finally {
    await bareProc.stop();
    await ingestProc.stop();
    await sandbox.cleanup();
  }
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const result = await benchIngest(
    await benchServices(),
    quick ? { saturationSeconds: 5, rateSeconds: 5, rounds: 1 } : {},
  );
  const r = result;
  console.log(JSON.stringify(result, null, 2));
  console.log(
    `ingest_rps=${Math.round(r.ingest.saturation.rps)} bare_rps=${Math.round(r.bare.saturation.rps)}`,
  );
  console.log(`ingest_over_bare=${r.ratio.toFixed(3)} (target >= 0.6)`);
  console.log(`ingest_p99_ms_at_1000=${r.ingest.rates["1000"]?.latencyMs.p99} (target <= 10)`);
}

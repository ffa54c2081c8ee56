import { join } from "node:path";
import { createSandbox, type Services } from "../src/stack/sandbox.ts";
import { fixedRate, type LoadResult, saturate } from "./lib/http-load.ts";
import { startNode, waitForHttp } from "./lib/processes.ts";
import { benchServices, log } from "./lib/services.ts";

/*
 * HTTP ingest against its ceiling: the bare Fastify + zod server (bench/bare-server.ts) and the
 * real ingress (`sentinel ingest`, producing to Kafka with acks=all), one after the other on the
 * same machine with the same load tool and bodies: saturation throughput, then latency at fixed rates.
 */

const ROOT = join(import.meta.dirname, "..");
const BARE_PORT = 18081;
const INGEST_PORT = 18082;

export type IngestBench = {
  saturationSeconds: number;
  rateSeconds: number;
  bare: { saturation: LoadResult; rates: Record<string, LoadResult> };
  ingest: { saturation: LoadResult; rates: Record<string, LoadResult>; peakRssMiB: number };
  ratio: number;
};

async function measure(url: string, saturationSeconds: number, rateSeconds: number, rates: number[]) {
  await saturate(url, 2); // warm-up: JIT, connections, the producer's first batches
  const saturation = await saturate(url, saturationSeconds);
  log(`${url}: ${Math.round(saturation.rps)} req/s at saturation (non-2xx ${saturation.non2xx})`);
  const byRate: Record<string, LoadResult> = {};
  for (const rate of rates) {
    byRate[rate] = await fixedRate(url, rate, rateSeconds);
    const l = byRate[rate]!.latencyMs;
    log(`${url}: ${rate} req/s → p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms`);
  }
  return { saturation, rates: byRate };
}

export async function benchIngest(
  services: Services,
  { saturationSeconds = 10, rateSeconds = 10, rates = [500, 1000, 2000] } = {},
): Promise<IngestBench> {
  const sandbox = await createSandbox(services, { prefix: "bench" });
  try {
    const bareProc = startNode(join(ROOT, "bench/bare-server.ts"), [String(BARE_PORT)], {});
    let bare: IngestBench["bare"];
    try {
      await waitForHttp(`http://127.0.0.1:${BARE_PORT}/healthz`);
      bare = await measure(`http://127.0.0.1:${BARE_PORT}`, saturationSeconds, rateSeconds, rates);
    } finally {
      await bareProc.stop();
    }

    const ingestProc = startNode(join(ROOT, "bin/sentinel.ts"), ["ingest"], {
      ...sandbox.env,
      PORT: String(INGEST_PORT),
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
    });
    let ingest: IngestBench["ingest"];
    try {
      await waitForHttp(`http://127.0.0.1:${INGEST_PORT}/readyz`);
      ingest = {
        ...(await measure(`http://127.0.0.1:${INGEST_PORT}`, saturationSeconds, rateSeconds, rates)),
        peakRssMiB: 0,
      };
      ingest.peakRssMiB = Math.round(ingestProc.peakRssMiB());
    } finally {
      await ingestProc.stop();
    }
    return {
      saturationSeconds,
      rateSeconds,
      bare,
      ingest,
      ratio: ingest.saturation.rps / bare.saturation.rps,
    };
  } finally {
    await sandbox.cleanup();
  }
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const result = await benchIngest(
    await benchServices(),
    quick ? { saturationSeconds: 5, rateSeconds: 5 } : {},
  );
  const r = result;
  console.log(JSON.stringify(result, null, 2));
  console.log(
    `ingest_rps=${Math.round(r.ingest.saturation.rps)} bare_rps=${Math.round(r.bare.saturation.rps)}`,
  );
  console.log(`ingest_over_bare=${r.ratio.toFixed(3)} (target >= 0.6)`);
  console.log(`ingest_p99_ms_at_1000=${r.ingest.rates["1000"]?.latencyMs.p99} (target <= 10)`);
}

import { availableParallelism } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../src/paths.ts";
import { createSandbox, type Services } from "../src/stack/sandbox.ts";
import { startNode, waitForHttp } from "../test/support/processes.ts";
import { cpuSpent, machineBusyMs, sampleCpu, stackPids } from "./lib/cpu.ts";
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
  /** CPU per request at saturation (median of the rounds), µs: where the two servers' budgets go. */
  cpu: Record<"bare" | "ingest", SaturationCpu>;
};

/**
 * A saturation round's CPU per request, µs: the server's own, the broker's, and the rest of the
 * machine (the load generator wrk, the kernel's interrupts, anything else running); `cores`: how
 * many of the machine's cores were busy on average.
 */
export type SaturationCpu = { server: number; kafka: number; rest: number; total: number; cores: number };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** CPU per request of one saturation round, from the processes' and the machine's CPU ms. */
function saturationCpu(
  spent: Record<string, number>,
  machineMs: number,
  { server, requests, seconds }: { server: string; requests: number; seconds: number },
): SaturationCpu {
  const per = (ms: number) => (1000 * ms) / Math.max(1, requests);
  const own = spent[server] ?? 0;
  const kafka = spent.kafka ?? 0;
  return {
    server: per(own),
    kafka: per(kafka),
    rest: per(Math.max(0, machineMs - own - kafka)),
    total: per(machineMs),
    cores: machineMs / (seconds * 1000),
  };
}

/** Each field's median over the rounds. */
function medianCpu(rounds: SaturationCpu[]): SaturationCpu {
  const m = (k: keyof SaturationCpu) => median(rounds.map((r) => r[k]));
  return { server: m("server"), kafka: m("kafka"), rest: m("rest"), total: m("total"), cores: m("cores") };
}

/** One round's CPU per request, as the bench logs it. */
const cpuText = (c: SaturationCpu) =>
  `server ${c.server.toFixed(0)}, kafka ${c.kafka.toFixed(0)}, rest ${c.rest.toFixed(0)}; cores busy ${c.cores.toFixed(2)} of ${availableParallelism()}`;

/** The closing lines of the CPU per request at saturation (bench:ingest and npm run bench print the same). */
export function ingestCpuLines(r: IngestBench): Record<string, string> {
  const { bare, ingest } = r.cpu;
  return {
    ingest_cpu_us_per_req: ingest.total.toFixed(0),
    ingest_server_cpu_us_per_req: ingest.server.toFixed(0),
    ingest_kafka_cpu_us_per_req: ingest.kafka.toFixed(0),
    bare_cpu_us_per_req: bare.total.toFixed(0),
    bare_server_cpu_us_per_req: bare.server.toFixed(0),
  };
}

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
    const cpuRuns: Record<"bare" | "ingest", SaturationCpu[]> = { bare: [], ingest: [] };
    const roles = stackPids({ bare: bareProc.child.pid, ingest: ingestProc.child.pid });
    for (let round = 0; round < rounds; round++) {
      for (const name of ["bare", "ingest"] as const) {
        const [before, machineBefore] = [sampleCpu(roles), machineBusyMs()];
        const r = wrkSaturate(servers[name], saturationSeconds);
        const cpu = saturationCpu(cpuSpent(before, sampleCpu(roles)), machineBusyMs() - machineBefore, {
          server: name,
          requests: r.requests,
          seconds: saturationSeconds,
        });
        log(
          `${name} round ${round + 1}: ${Math.round(r.rps)} req/s (non-2xx ${r.non2xx}, errors ${r.errors}); CPU µs/request: ${cpuText(cpu)}`,
        );
        runs[name].push(r);
        cpuRuns[name].push(cpu);
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
      cpu: { bare: medianCpu(cpuRuns.bare), ingest: medianCpu(cpuRuns.ingest) },
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
  for (const name of ["bare", "ingest"] as const)
    log(`${name} CPU µs/request (median): ${cpuText(r.cpu[name])}`);
  for (const [k, v] of Object.entries(ingestCpuLines(r))) console.log(`${k}=${v}`);
  console.log(`ingest_p99_ms_at_1000=${r.ingest.rates["1000"]?.latencyMs.p99} (target <= 10)`);
}

import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { REPO_ROOT } from "../src/stack/kafka-broker.ts";
import { createSandbox, type Services } from "../src/stack/sandbox.ts";
import { startNode, waitForHttp } from "./lib/processes.ts";
import { benchServices, log } from "./lib/services.ts";

/*
 * End to end: POST /transaction at a fixed rate against `sentinel ingest` + `sentinel consume`, and the time from sending
 * each request to its decision arriving on `transactions.decisions` (published only after the
 * decision is stored). Sender and reader run in this process; the pipeline in its own.
 */

const PORT = 18083;

export type E2eRate = {
  rate: number;
  sent: number;
  accepted: number;
  decided: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
};

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
  // Ingest and consumer as two processes, as deployed (one event loop each).
  const procs = [
    startNode(join(REPO_ROOT, "bin/sentinel.ts"), ["ingest"], env),
    startNode(join(REPO_ROOT, "bin/sentinel.ts"), ["consume"], env),
  ];
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const reader = sandbox.kafka.consumer({ groupId: `e2e-${sandbox.id}`, maxWaitTimeInMs: 5 });
  try {
    await waitForHttp(`http://127.0.0.1:${PORT}/readyz`);
    await reader.connect();
    await reader.subscribe({ topic: sandbox.config.kafka.topics.decisions, fromBeginning: true });
    await reader.run({
      eachBatch: async ({ batch }) => {
        const now = performance.now();
        for (const m of batch.messages) {
          const d = JSON.parse(m.value!.toString()) as { transaction_id: string };
          const t0 = sentAt.get(d.transaction_id);
          if (t0 !== undefined) {
            latencies.push(now - t0);
            sentAt.delete(d.transaction_id);
          }
        }
      },
    });
    // A warm-up round first, not reported: the scorer joins its group, JIT and pools settle.
    const results: E2eRate[] = [];
    const rounds = [{ rate: 200, warmUp: true }, ...rates.map((rate) => ({ rate, warmUp: false }))];
    for (const { rate, warmUp } of rounds) {
      latencies.length = 0;
      sentAt.clear();
      let sent = 0;
      let accepted = 0;
      const tickMs = 10;
      const perTick = rate / (1000 / tickMs);
      const started = performance.now();
      const inflight: Promise<void>[] = [];
      // A fixed schedule: tick i sends until i·perTick requests are out, whatever the answers do.
      for (let tick = 1; performance.now() - started < seconds * 1000; tick++) {
        while (sent < tick * perTick) {
          const id = randomUUID();
          sent++;
          sentAt.set(id, performance.now());
          inflight.push(
            fetch(`http://127.0.0.1:${PORT}/transaction`, {
              method: "POST",
              headers: { "content-type": "application/json" },
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
                if (r.status === 202) accepted++;
              },
              () => {},
            ),
          );
        }
        const wait = started + tick * tickMs - performance.now();
        if (wait > 0) await sleep(wait);
      }
      await Promise.all(inflight);
      for (let i = 0; i < 100 && latencies.length < accepted; i++) await sleep(100);
      const sorted = [...latencies].sort((a, b) => a - b);
      const r: E2eRate = {
        rate,
        sent,
        accepted,
        decided: sorted.length,
        latencyMs: {
          p50: Math.round(percentile(sorted, 50) * 10) / 10,
          p90: Math.round(percentile(sorted, 90) * 10) / 10,
          p99: Math.round(percentile(sorted, 99) * 10) / 10,
          max: Math.round((sorted.at(-1) ?? Number.NaN) * 10) / 10,
        },
      };
      if (warmUp) {
        log(`warm-up at ${rate}/s: ${r.decided}/${r.sent} decided (not reported)`);
        continue;
      }
      log(
        `e2e at ${rate}/s: ${r.decided}/${r.sent} decided, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms`,
      );
      results.push(r);
    }
    return results;
  } finally {
    await reader.disconnect().catch(() => {});
    await Promise.all(procs.map((p) => p.stop()));
    await sandbox.cleanup();
  }
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const r = await benchE2e(await benchServices(), quick ? { seconds: 5 } : {});
  console.log(JSON.stringify(r, null, 2));
  for (const x of r) console.log(`e2e_p99_ms_at_${x.rate}=${x.latencyMs.p99}`);
}

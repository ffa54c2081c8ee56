import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "slonik";
import { createLogger } from "../src/logger.ts";
import { REPO_ROOT } from "../src/paths.ts";
import { pollUntil } from "../src/poll.ts";
import { createSandbox, type Sandbox, type Services } from "../src/stack/sandbox.ts";
import { createDatabasePool } from "../src/store/pool.ts";
import { webhookStores } from "../src/webhooks/main.ts";
import { freePorts } from "../test/support/ports.ts";
import { type Proc, startNode, waitForHttp } from "../test/support/processes.ts";
import { benchServices, log } from "./lib/services.ts";

/*
 * `npm run bench:webhooks [-- --quick]` (issue 23), and a stage of `npm run bench`:
 * - throughput: N decisions written straight to the decisions topic, one endpoint subscribed to
 *   them, one `sentinel webhooks` process delivering to a receiver on loopback (a process of its
 *   own, bench/lib/receiver-process.ts) — deliveries per
 *   second from the first request received to the last (every one signed, stored, claimed,
 *   recorded), and the process's peak RSS. Targets: ≥ 2,000/s, ≤ 100 MiB.
 * - latency: `sentinel all` with an endpoint subscribed to every decision, transactions posted at
 *   500/s — from each decision's decided_at to its arrival at the receiver, p50 / p99.
 */

const BIN = join(REPO_ROOT, "bin/sentinel.ts");
const ACTOR = { name: "bench", role: "admin" };
const DECISIONS = ["decision.approved", "decision.review", "decision.declined"] as const;

export type WebhooksBench = {
  deliveries: number;
  deliveriesPerSec: number;
  peakRssMiB: number;
  rate: number;
  sent: number;
  delivered: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
};

const pct = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

type Arrival = { atMs: number; decidedAt: string; id: string };

/** A receiver in its own process; `arrivals()` asks it for what it received (it stops then). */
async function receiverProcess() {
  const proc = startNode(join(import.meta.dirname, "lib/receiver-process.ts"), [], {});
  await pollUntil(async () => proc.stdout().includes("\n"), {
    timeoutMs: 30_000,
    onTimeout: () => {
      throw new Error(`receiver did not start: ${proc.output()}`);
    },
  });
  const { url } = JSON.parse(proc.stdout().split("\n")[0]!) as { url: string };
  return {
    url,
    proc,
    async arrivals(): Promise<Arrival[]> {
      await proc.stop("SIGTERM", 30_000);
      const line = proc.stdout().trim().split("\n").at(-1)!;
      return (JSON.parse(line) as { arrivals: Array<[number, string, string]> }).arrivals.map(
        ([atMs, decidedAt, id]) => ({
          atMs,
          decidedAt,
          id,
        }),
      );
    },
  };
}

async function withEndpoint<T>(
  services: Services,
  run: (
    sandbox: Sandbox,
    receiver: Awaited<ReturnType<typeof receiverProcess>>,
    delivered: () => Promise<number>,
  ) => Promise<T>,
): Promise<T> {
  const sandbox = await createSandbox(services, {
    prefix: "bench",
    overrides: { WEBHOOK_ALLOW_PRIVATE: "true", LOG_LEVEL: "warn" },
  });
  const receiver = await receiverProcess();
  const pool = await createDatabasePool(sandbox.config.database.url, { maxPoolSize: 2 });
  try {
    const { endpoints } = webhookStores({
      pool,
      config: sandbox.config,
      logger: createLogger(sandbox.config, "bench"),
    });
    await endpoints.create({ url: receiver.url, events: [...DECISIONS] }, ACTOR);
    const delivered = async () =>
      Number(
        (await pool.oneFirst(
          sql.unsafe`SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'`,
        )) as string,
      );
    return await run(sandbox, receiver, delivered);
  } finally {
    await pool.end();
    await receiver.proc.stop("SIGKILL");
    await sandbox.cleanup();
  }
}

async function until(what: string, done: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not done after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Deliveries per second of one `sentinel webhooks` process over `n` decisions already on the topic. */
async function throughput(services: Services, n: number) {
  return withEndpoint(services, async (sandbox, receiver, delivered) => {
    const producer = sandbox.kafka.producer();
    await producer.connect();
    const decidedAt = new Date(Date.now() + 1_000).toISOString(); // after the endpoint's creation
    for (let i = 0; i < n; i += 1_000) {
      await producer.send({
        topic: sandbox.config.kafka.topics.decisions,
        acks: -1,
        messages: Array.from({ length: Math.min(1_000, n - i) }, (_, j) => {
          const d = {
            transaction_id: randomUUID(),
            user_id: `wh-${(i + j) % 1_000}`,
            decision: "approve",
            score: 0,
            reasons: [],
            rules_version: "bench",
            decided_at: decidedAt,
          };
          return { key: d.user_id, value: JSON.stringify(d) };
        }),
      });
    }
    await producer.disconnect();
    const proc = startNode(BIN, ["webhooks"], { ...sandbox.env, METRICS_PORT: "0" });
    try {
      await until("deliveries", async () => (await delivered()) >= n, 600_000);
      const arrivals = await receiver.arrivals();
      const first = arrivals[0]!.atMs;
      const last = arrivals.at(-1)!.atMs;
      const unique = new Set(arrivals.map((r) => r.id)).size;
      if (unique < n) throw new Error(`only ${unique} of ${n} distinct deliveries`);
      return {
        deliveriesPerSec: Math.round(((n - 1) * 1000) / Math.max(1, last - first)),
        peakRssMiB: Math.round(proc.peakRssMiB()),
      };
    } finally {
      await proc.stop();
    }
  });
}

/** decided_at → received at the receiver, with `sentinel all` taking `rate` transactions a second. */
async function latency(services: Services, rate: number, seconds: number) {
  return withEndpoint(services, async (sandbox, receiver, delivered) => {
    const port = await freePorts(1);
    // As a deployment runs them: the ingress, the scorer and the delivery each in a process.
    const procs: Proc[] = [
      startNode(BIN, ["ingest"], { ...sandbox.env, PORT: String(port), METRICS_PORT: "0" }),
      startNode(BIN, ["consume"], { ...sandbox.env, METRICS_PORT: "0" }),
      startNode(BIN, ["webhooks"], { ...sandbox.env, METRICS_PORT: "0" }),
    ];
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitForHttp(`${base}/readyz`, 60_000);
      const post = () =>
        fetch(`${base}/transaction`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            user_id: `wh-${Math.floor(Math.random() * 5_000)}`,
            amount: "12.50",
            currency: "USD",
          }),
        }).then(
          (r) => r.ok,
          () => false,
        );
      // A warm-up second (connections, JIT, the group's first fetch), not measured.
      await Promise.all(Array.from({ length: 50 }, post));
      await until("warm-up deliveries", async () => (await delivered()) >= 50, 60_000);
      const measuredFrom = Date.now();
      let sent = 0;
      const started = performance.now();
      const inFlight = new Set<Promise<boolean>>();
      for (let tick = 0; tick < seconds * 100; tick++) {
        const due = Math.round(((tick + 1) * rate) / 100) - sent;
        for (let k = 0; k < due && inFlight.size < 500; k++, sent++) {
          const p = post();
          inFlight.add(p);
          void p.finally(() => inFlight.delete(p));
        }
        const next = started + (tick + 1) * 10;
        await sleep(Math.max(0, next - performance.now()));
      }
      await Promise.all(inFlight);
      await until("deliveries", async () => (await delivered()) >= 50 + sent, 120_000).catch(() => {});
      const lat = (await receiver.arrivals())
        .filter((r) => Date.parse(r.decidedAt) >= measuredFrom)
        .map((r) => r.atMs - Date.parse(r.decidedAt))
        .sort((a, b) => a - b);
      return {
        sent,
        delivered: lat.length,
        latencyMs: { p50: pct(lat, 0.5), p90: pct(lat, 0.9), p99: pct(lat, 0.99), max: lat.at(-1) ?? 0 },
      };
    } finally {
      await Promise.all(procs.map((p) => p.stop()));
    }
  });
}

export async function benchWebhooks(
  services: Services,
  { deliveries = 20_000, rate = 500, seconds = 30 } = {},
): Promise<WebhooksBench> {
  const t = await throughput(services, deliveries);
  log(`webhooks: ${t.deliveriesPerSec} deliveries/s over ${deliveries}, peak RSS ${t.peakRssMiB} MiB`);
  const l = await latency(services, rate, seconds);
  log(
    `webhooks: decision → delivery at ${rate}/s: p50 ${l.latencyMs.p50} ms, p99 ${l.latencyMs.p99} ms (${l.delivered}/${l.sent})`,
  );
  return { deliveries, ...t, rate, ...l };
}

export function webhooksLines(w: WebhooksBench): Record<string, number> {
  return {
    webhook_deliveries_per_sec: w.deliveriesPerSec,
    webhook_process_peak_rss_mib: w.peakRssMiB,
    webhook_p50_ms_decision_to_delivery_at_500: w.latencyMs.p50,
    webhook_p99_ms_decision_to_delivery_at_500: w.latencyMs.p99,
    webhook_delivered_ratio_at_500: Math.round((w.delivered / Math.max(1, w.sent)) * 1000) / 1000,
  };
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const result = await benchWebhooks(await benchServices(), quick ? { deliveries: 5_000, seconds: 10 } : {});
  for (const [k, v] of Object.entries(webhooksLines(result))) console.log(`${k}=${v}`);
}

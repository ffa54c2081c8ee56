import { join } from "node:path";
import { Partitioners } from "kafkajs";
import { DLQ_HEADERS } from "../src/kafka/dead-letter-codec.ts";
import { REPO_ROOT } from "../src/paths.ts";
import { pollUntil } from "../src/poll.ts";
import { createSandbox } from "../src/stack/sandbox.ts";
import { startNode } from "../test/support/processes.ts";
import { benchServices, log } from "./lib/services.ts";

/*
 * The DLQ tools at scale (issue 11, item 8): `letters` dead letters (default 1,000,000; --quick
 * 100,000) written to a DLQ of its own, then `sentinel dlq list --limit 20`, `dlq redrive --dry-run`
 * and `dlq redrive` run as the operator runs them, each timed with its peak RSS. Before streaming,
 * each of these loaded every letter with its value into memory.
 * Usage: node bench/dlq-scale.ts [--quick] [--letters N]
 */

const HEAP_CAP_MIB = 96;

export type ToolRun = { command: string; seconds: number; peakRssMiB: number; exitCode: number | null };

async function runTool(args: string[], env: Record<string, string>, heapMiB?: number): Promise<ToolRun> {
  const started = Date.now();
  const proc = startNode(join(REPO_ROOT, "bin/sentinel.ts"), args, {
    ...env,
    LOG_LEVEL: "warn",
    // With a capped heap, a tool that held every letter would die; one that streams finishes.
    ...(heapMiB ? { NODE_OPTIONS: `--max-old-space-size=${heapMiB}` } : {}),
  });
  await pollUntil(() => proc.child.exitCode !== null || proc.child.signalCode !== null, {
    timeoutMs: 30 * 60_000,
    everyMs: 200,
  });
  const run = {
    command: `${heapMiB ? `(heap capped at ${heapMiB} MiB) ` : ""}sentinel ${args.join(" ")}`,
    seconds: (Date.now() - started) / 1000,
    peakRssMiB: Math.round(proc.peakRssMiB()),
    exitCode: proc.child.exitCode,
  };
  await proc.stop();
  if (run.exitCode !== 0) throw new Error(`${run.command} exited ${run.exitCode}: ${proc.output()}`);
  log(`${run.command}: ${run.seconds.toFixed(1)} s, peak RSS ${run.peakRssMiB} MiB`);
  return run;
}

export async function benchDlqScale(letters: number): Promise<ToolRun[]> {
  const services = await benchServices();
  const sandbox = await createSandbox(services, {
    prefix: "dlqscale",
    overrides: { TOPIC_TRANSACTIONS_PARTITIONS: "4" },
  });
  try {
    log(`writing ${letters} dead letters`);
    const producer = sandbox.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const { transactions, dlq } = sandbox.config.kafka.topics;
    const batch = 1_500; // about 600 KB a request: under the broker's 1 MB batch limit
    for (let i = 0; i < letters; i += batch) {
      const messages = [];
      for (let j = i; j < Math.min(letters, i + batch); j++) {
        messages.push({
          key: `user-${j % 50_000}`,
          value: `{"transaction_id":"${crypto.randomUUID()}","user_id":"user-${j % 50_000}","amount":"not-a-number","currency":"USD","metadata":{"note":"${"x".repeat(80)}"}}`,
          headers: {
            [DLQ_HEADERS.error]: "schema_violation: amount: must be a positive decimal string",
            [DLQ_HEADERS.reason]: j % 10 === 0 ? "not_json" : "schema_violation",
            [DLQ_HEADERS.sourceTopic]: transactions,
            [DLQ_HEADERS.sourcePartition]: String(j % 4),
            [DLQ_HEADERS.sourceOffset]: String(Math.floor(j / 4)),
            [DLQ_HEADERS.sourceTimestamp]: String(Date.now()),
          },
        });
      }
      await producer.send({ topic: dlq, acks: 1, messages });
    }
    await producer.disconnect();
    const runs: ToolRun[] = [];
    runs.push(await runTool(["dlq", "list", "--limit", "20"], sandbox.env));
    runs.push(await runTool(["dlq", "redrive", "--dry-run"], sandbox.env));
    runs.push(await runTool(["dlq", "list", "--limit", "20"], sandbox.env, HEAP_CAP_MIB));
    runs.push(await runTool(["dlq", "redrive", "--dry-run"], sandbox.env, HEAP_CAP_MIB));
    runs.push(await runTool(["dlq", "redrive", "--reason", "not_json"], sandbox.env, HEAP_CAP_MIB));
    return runs;
  } finally {
    await sandbox.cleanup();
  }
}

if (import.meta.main) {
  const i = process.argv.indexOf("--letters");
  const letters =
    i > 0 ? Number(process.argv[i + 1]) : process.argv.includes("--quick") ? 100_000 : 1_000_000;
  const runs = await benchDlqScale(letters);
  console.log(JSON.stringify({ letters, runs }, null, 2));
  const names = [
    "dlq_list",
    "dlq_redrive_dry_run",
    "dlq_list_capped",
    "dlq_redrive_dry_run_capped",
    "dlq_redrive_capped",
  ];
  runs.forEach((r, k) => {
    console.log(`${names[k]}_seconds_${letters}=${r.seconds.toFixed(1)}`);
    console.log(`${names[k]}_peak_rss_mib_${letters}=${r.peakRssMiB}`);
  });
}

import { Presets, SingleBar } from "cli-progress";
import Table from "cli-table3";
import type { Config } from "../config.ts";
import { deadLetteredSources, keyOf, readDeadLetters, redrive, redrivenSources } from "../consumer/dlq.ts";
import { scoringDeps } from "../consumer/main.ts";
import { replay } from "../consumer/replay.ts";
import { createKafka } from "../kafka/client.ts";
import { describeOffsets, resetOffsets } from "../kafka/offsets.ts";
import { parsePartitions, parsePosition, resolveRanges } from "../kafka/range-reader.ts";
import { framedSchemaId } from "../kafka/transaction-codec.ts";
import type { Logger } from "../logger.ts";
import { createRuntime, type Runtime } from "../runtime.ts";
import { createRedriveStore } from "../store/redrive-store.ts";

/*
 * The SRE commands: replay, dlq list/redrive, offsets, schemas register. Each prints a human
 * summary on stdout (or JSON with --json) and logs to stderr; exit code 1 with a one-line reason on
 * a refused or failed operation.
 */

const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};

async function withRuntime<T>(config: Config, logger: Logger, run: (rt: Runtime) => Promise<T>): Promise<T> {
  const rt = await createRuntime(config, logger);
  try {
    await rt.producer.ready(60_000);
    return await run(rt);
  } finally {
    await rt.close();
  }
}

/** A plain table: no colours, no lines between rows (pipes into grep and files cleanly). */
function newTable(head: string[]): Table.Table {
  return new Table({
    head,
    style: { head: [], border: [], compact: true },
    chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
  });
}

function printable(value: Buffer | null, width: number): string {
  if (!value) return "(none)";
  const id = framedSchemaId(value);
  const text = id === undefined ? value.toString("utf8") : `[id ${id}] ${value.subarray(5).toString("utf8")}`;
  const clean = text.replace(/[^\x20-\x7e]/g, "·");
  return clean.length > width ? `${clean.slice(0, width - 1)}…` : clean;
}

export type ReplayCliOptions = {
  from: string;
  to?: string;
  partitions?: string;
  dryRun?: boolean;
  redecide?: boolean;
  json?: boolean;
  progress?: boolean;
};

export async function replayCommand(config: Config, logger: Logger, opts: ReplayCliOptions): Promise<void> {
  const from = parsePosition(opts.from);
  const to = opts.to === undefined ? undefined : parsePosition(opts.to);
  const partitions = opts.partitions === undefined ? undefined : parsePartitions(opts.partitions);
  await withRuntime(config, logger, async (rt) => {
    const admin = rt.kafka.admin();
    await admin.connect();
    const ranges = await resolveRanges(admin, config.kafka.topics.transactions, {
      from,
      to,
      partitions,
    }).finally(() => admin.disconnect());
    const total = ranges.reduce((n, r) => n + Number(r.end - r.start), 0);
    const alreadyDeadLettered = await deadLetteredSources(rt.kafka, config.kafka.topics.dlq);
    const bar = new SingleBar(
      {
        format: "replay |{bar}| {value}/{total} messages | {rate} msg/s | ETA {eta_formatted}",
        stream: process.stderr,
        etaBuffer: 50,
        // Not a terminal (CI, a log file): a plain line every 2 s instead of a redrawn bar.
        noTTYOutput: true,
        notTTYSchedule: 2_000,
      },
      Presets.shades_classic,
    );
    const showBar = opts.progress !== false;
    const started = Date.now();
    if (showBar) bar.start(total, 0, { rate: 0 });
    const scoring = await scoringDeps(rt);
    try {
      const summary = await replay({
        kafka: rt.kafka,
        producer: rt.producer.producer,
        topics: config.kafka.topics,
        ranges,
        scoring,
        redecide: opts.redecide ?? false,
        dryRun: opts.dryRun ?? false,
        chunkSize: config.consumer.chunkSize,
        alreadyDeadLettered,
        onProgress: (done) => {
          if (showBar)
            bar.update(done, { rate: Math.round(done / Math.max(0.001, (Date.now() - started) / 1000)) });
        },
        logger,
      });
      if (showBar) bar.stop();
      if (opts.json) {
        out(
          JSON.stringify({
            ranges: ranges.map((r) => ({ ...r, start: String(r.start), end: String(r.end) })),
            ...summary,
          }),
        );
        return;
      }
      const seconds = (Date.now() - started) / 1000;
      out(
        `replay of ${config.kafka.topics.transactions}${summary.dryRun ? " (dry run: nothing written)" : ""}`,
      );
      out(
        `  range          ${
          ranges
            .map((r) => `${r.partition}:${r.start}-${r.end - 1n}`)
            .filter((_, i) => ranges[i]!.end > ranges[i]!.start)
            .join(" ") || "(empty)"
        }`,
      );
      out(`  read           ${summary.read} messages in ${seconds.toFixed(1)} s`);
      out(`  already stored ${summary.alreadyStored} (unchanged)`);
      out(`  newly stored   ${summary.newlyStored}${summary.dryRun ? " (would be)" : ""}`);
      out(
        `  dead-lettered  ${summary.deadLettered}${summary.dryRun ? " (would be)" : ""}, ${summary.alreadyDeadLettered} already on ${config.kafka.topics.dlq}`,
      );
      if (summary.duplicates > 0)
        out(`  duplicates     ${summary.duplicates} (a transaction_id seen earlier in the range)`);
      const r = summary.redecided;
      if (r) {
        out();
        out(
          `re-decided with rules ${summary.rulesVersion}${summary.dryRun ? " (dry run: not stored)" : " (stored beside the live decisions)"}`,
        );
        out(`  scored ${r.scored}, unchanged ${r.unchanged}, moved ${r.scored - r.unchanged}`);
        if (r.moves.length > 0) {
          const table = newTable(["move", "count", "examples"]);
          for (const m of r.moves) table.push([`${m.from} → ${m.to}`, m.count, m.examples.join("\n")]);
          out(table.toString());
        }
      }
    } finally {
      if (showBar) bar.stop();
    }
  });
}

export type DlqCliOptions = {
  since?: string;
  reason?: string[];
  json?: boolean;
  limit?: number;
  dryRun?: boolean;
};

function dlqFilter(opts: DlqCliOptions) {
  return {
    since: opts.since === undefined ? undefined : parsePosition(opts.since),
    reasons: opts.reason && opts.reason.length > 0 ? opts.reason : undefined,
  };
}

export async function dlqListCommand(config: Config, logger: Logger, opts: DlqCliOptions): Promise<void> {
  const filter = dlqFilter(opts);
  await withRuntime(config, logger, async (rt) => {
    const letters = await readDeadLetters(rt.kafka, config.kafka.topics.dlq, filter);
    const redriven = await redrivenSources(createRedriveStore({ pool: rt.pool }), letters);
    const shown = opts.limit ? letters.slice(-opts.limit) : letters;
    const isRedriven = (l: (typeof letters)[number]) => redriven.has(keyOf(l));
    if (opts.json) {
      for (const l of shown) {
        out(
          JSON.stringify({
            reason: l.reason,
            error: l.error,
            source: { topic: l.sourceTopic, partition: l.sourcePartition, offset: l.sourceOffset },
            dlq: { partition: l.dlqPartition, offset: l.dlqOffset },
            time: new Date(l.timestampMs).toISOString(),
            redriven: isRedriven(l),
            key: l.key?.toString("utf8") ?? null,
            value: l.value?.toString("base64") ?? null,
          }),
        );
      }
      return;
    }
    const table = newTable(["reason", "source", "dead-lettered at", "redriven", "value"]);
    for (const l of shown) {
      table.push([
        l.reason,
        `${l.sourcePartition}:${l.sourceOffset}`,
        new Date(l.timestampMs).toISOString(),
        isRedriven(l) ? "yes" : "no",
        printable(l.value, 60),
      ]);
    }
    if (shown.length > 0) out(table.toString());
    const counts = new Map<string, number>();
    for (const l of letters) counts.set(l.reason, (counts.get(l.reason) ?? 0) + 1);
    out(
      `${letters.length} dead letter(s)${shown.length < letters.length ? `, last ${shown.length} shown` : ""}` +
        (counts.size > 0 ? `: ${[...counts].map(([r, n]) => `${r} ${n}`).join(", ")}` : ""),
    );
  });
}

export async function dlqRedriveCommand(config: Config, logger: Logger, opts: DlqCliOptions): Promise<void> {
  const filter = dlqFilter(opts);
  await withRuntime(config, logger, async (rt) => {
    const summary = await redrive({
      kafka: rt.kafka,
      producer: rt.producer.producer,
      redrives: createRedriveStore({ pool: rt.pool }),
      topics: config.kafka.topics,
      filter,
      dryRun: opts.dryRun ?? false,
      logger,
    });
    if (opts.json) return out(JSON.stringify(summary));
    const reasons = Object.entries(summary.byReason)
      .map(([r, n]) => `${r} ${n}`)
      .join(", ");
    out(
      `redrive ${config.kafka.topics.dlq} → ${config.kafka.topics.transactions}${summary.dryRun ? " (dry run: nothing moved)" : ""}`,
    );
    out(`  matching letters  ${summary.matched}`);
    out(`  already redriven  ${summary.alreadyRedriven} (skipped)`);
    out(
      `  ${summary.dryRun ? "would move" : "moved"}        ${summary.moved}${reasons ? ` (${reasons})` : ""}`,
    );
  });
}

export async function offsetsCommand(
  config: Config,
  logger: Logger,
  opts: { group?: string; resetTo?: string; dryRun?: boolean; json?: boolean },
): Promise<void> {
  const groupId = opts.group ?? config.consumer.group;
  const topic = config.kafka.topics.transactions;
  const to = opts.resetTo === undefined ? undefined : parsePosition(opts.resetTo);
  const kafka = createKafka({
    brokers: config.kafka.brokers,
    clientId: `${config.kafka.clientId}-offsets`,
    logger,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (to) {
      const resets = await resetOffsets(admin, groupId, topic, to, { dryRun: opts.dryRun });
      if (opts.json) {
        return out(
          JSON.stringify(resets.map((r) => ({ ...r, from: r.from?.toString() ?? null, to: String(r.to) }))),
        );
      }
      const table = newTable(["partition", "committed before", "committed now"]);
      for (const r of resets) table.push([r.partition, r.from?.toString() ?? "(none)", String(r.to)]);
      out(table.toString());
      out(`${opts.dryRun ? "would reset" : "reset"} group ${groupId} on ${topic} to ${opts.resetTo}`);
      return;
    }
    const o = await describeOffsets(admin, groupId, topic);
    if (opts.json) {
      return out(
        JSON.stringify({
          ...o,
          totalLag: String(o.totalLag),
          partitions: o.partitions.map((p) => ({
            partition: p.partition,
            committed: p.committed?.toString() ?? null,
            low: String(p.low),
            high: String(p.high),
            lag: String(p.lag),
          })),
        }),
      );
    }
    const table = newTable(["partition", "committed", "end", "lag"]);
    for (const p of o.partitions)
      table.push([p.partition, p.committed?.toString() ?? "(none)", String(p.high), String(p.lag)]);
    out(table.toString());
    out(`group ${groupId} on ${topic}: ${o.state}, ${o.members.length} member(s), total lag ${o.totalLag}`);
  } finally {
    await admin.disconnect();
  }
}

export async function schemasRegisterCommand(config: Config): Promise<void> {
  const url = config.kafka.schemaRegistryUrl;
  if (!url) throw new Error("SCHEMA_REGISTRY_URL is not set: nothing to register with");
  const { createRegistryClient, registerSchemas } = await import("../kafka/schema-registry.ts");
  const registered = await registerSchemas(createRegistryClient(url), config.kafka.topics);
  for (const r of registered) out(`${r.subject}: schema id ${r.id}, compatibility ${r.compatibility}`);
}

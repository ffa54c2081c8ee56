import { Presets, SingleBar } from "cli-progress";
import Table from "cli-table3";
import type { Config } from "../config.ts";
import {
  type DeadLetterRecord,
  deadLetteredSources,
  forEachDeadLetter,
  keyOf,
  redrive,
  redrivenSources,
} from "../consumer/dlq.ts";
import { scoringDeps } from "../consumer/main.ts";
import { replay } from "../consumer/replay.ts";
import { maskPans } from "../domain/pan.ts";
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
  // Letters written before masking existed may hold card numbers: never print one (law 7).
  const clean = maskPans(text).replace(/[^\x20-\x7e]/g, "·");
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
    // Only the letters of this range are kept: bounded by its poison, not by the DLQ's length.
    const byPartition = new Map(ranges.map((r) => [r.partition, r]));
    const alreadyDeadLettered = await deadLetteredSources(rt.kafka, config.kafka.topics.dlq, (l) => {
      const r = byPartition.get(l.sourcePartition);
      if (!r || l.sourceTopic !== config.kafka.topics.transactions) return false;
      const o = BigInt(l.sourceOffset);
      return o >= r.start && o < r.end;
    });
    const beyond = await beyondCommitted(rt, ranges);
    if (beyond.length > 0) {
      const where = beyond.map((b) => `${b.partition}:${b.committed ?? "none"}`).join(" ");
      logger.warn({ group: config.consumer.group, committed: where }, "replay range beyond the live group");
      process.stderr.write(
        `warning: the range reaches past what group ${config.consumer.group} has committed (${where}): ` +
          "the history of transactions there may be incomplete until the live group catches up\n",
      );
    }
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
        maxRequestBytes: config.producer.maxBatchBytes,
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

const LIST_COLUMNS: Array<[string, number]> = [
  ["reason", 18],
  ["source", 14],
  ["dead-lettered at", 26],
  ["redriven", 9],
  ["value", 0],
];

function row(cells: readonly string[]): string {
  return cells.map((c, i) => (LIST_COLUMNS[i]![1] > 0 ? c.padEnd(LIST_COLUMNS[i]![1]) : c)).join(" ");
}

/**
 * `dlq list`, streaming: rows are printed as letters are read (or, with --limit n, the last n are
 * kept), so a DLQ of millions is listed in bounded memory; counts per reason close the output.
 */
export async function dlqListCommand(config: Config, logger: Logger, opts: DlqCliOptions): Promise<void> {
  const filter = dlqFilter(opts);
  await withRuntime(config, logger, async (rt) => {
    const redrives = createRedriveStore({ pool: rt.pool });
    const counts = new Map<string, number>();
    let total = 0;
    const kept: string[] = [];
    let headerDone = false;
    const render = (l: DeadLetterRecord, redriven: boolean): string =>
      opts.json
        ? JSON.stringify({
            reason: l.reason,
            error: maskPans(l.error),
            source: { topic: l.sourceTopic, partition: l.sourcePartition, offset: l.sourceOffset },
            dlq: { partition: l.dlqPartition, offset: l.dlqOffset },
            time: new Date(l.timestampMs).toISOString(),
            redriven,
            pan_masked: l.panMasked,
            key: l.key ? maskPans(l.key.toString("utf8")) : null,
            // A letter from before masking existed may hold a card number: masked here too.
            value: l.value
              ? Buffer.from(maskPans(l.value.toString("latin1")), "latin1").toString("base64")
              : null,
          })
        : row([
            l.reason,
            `${l.sourcePartition}:${l.sourceOffset}`,
            new Date(l.timestampMs).toISOString(),
            redriven ? "yes" : "no",
            printable(l.value, 60),
          ]);
    const emit = (line: string) => {
      if (opts.limit) {
        kept.push(line);
        if (kept.length > opts.limit) kept.shift();
        return;
      }
      if (!headerDone && !opts.json) out(row(LIST_COLUMNS.map(([h]) => h)));
      headerDone = true;
      out(line);
    };
    await forEachDeadLetter(rt.kafka, config.kafka.topics.dlq, filter, async (letters) => {
      const redriven = await redrivenSources(redrives, letters);
      for (const l of letters) {
        total++;
        counts.set(l.reason, (counts.get(l.reason) ?? 0) + 1);
        emit(render(l, redriven.has(keyOf(l))));
      }
    });
    if (opts.limit && kept.length > 0) {
      if (!opts.json) out(row(LIST_COLUMNS.map(([h]) => h)));
      for (const line of kept) out(line);
    }
    if (opts.json) return;
    const shown = opts.limit ? kept.length : total;
    out(
      `${total} dead letter(s)${shown < total ? `, last ${shown} shown` : ""}` +
        (counts.size > 0 ? `: ${[...counts].map(([r, n]) => `${r} ${n}`).join(", ")}` : ""),
    );
  });
}

/** Partitions whose range ends past the live group's committed offset (history may be missing there). */
async function beyondCommitted(
  rt: Runtime,
  ranges: ReadonlyArray<{ partition: number; start: bigint; end: bigint }>,
): Promise<Array<{ partition: number; committed: string | null }>> {
  const admin = rt.kafka.admin();
  await admin.connect();
  try {
    const [topicOffsets] = await admin.fetchOffsets({
      groupId: rt.config.consumer.group,
      topics: [rt.config.kafka.topics.transactions],
    });
    const committed = new Map(
      (topicOffsets?.partitions ?? []).map((p) => [p.partition, p.offset === "-1" ? null : BigInt(p.offset)]),
    );
    return ranges
      .filter((r) => r.end > r.start)
      .filter((r) => {
        const c = committed.get(r.partition);
        return c === undefined || c === null || r.end > c;
      })
      .map((r) => ({ partition: r.partition, committed: committed.get(r.partition)?.toString() ?? null }));
  } finally {
    await admin.disconnect();
  }
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
    if (summary.notOriginal > 0)
      out(`  not the original  ${summary.notOriginal} (card numbers masked or value cut: not moved)`);
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

import { cliActor } from "../audit/audit-command.ts";
import { recordAudit } from "../audit/audit-store.ts";
import type { Config } from "../config.ts";
import { maskPans } from "../domain/pan.ts";
import { parsePosition } from "../kafka/range-reader.ts";
import type { Logger } from "../logger.ts";
import { createRedriveStore } from "../store/redrive-store.ts";
import {
  type DeadLetterRecord,
  forEachDeadLetter,
  keyOf,
  type RedriveSummary,
  redrive,
  redrivenSources,
} from "./dlq.ts";
import { out, printable, toJson, withRuntime } from "./output.ts";

/* `sentinel dlq list` and `sentinel dlq redrive`: the commands around the DLQ engine (./dlq.ts). */

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
        ? toJson({
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

/** The human summary of a redrive (pure). */
export function renderRedrive(summary: RedriveSummary, topics: Config["kafka"]["topics"]): string[] {
  const reasons = Object.entries(summary.byReason)
    .map(([r, n]) => `${r} ${n}`)
    .join(", ");
  const lines = [
    `redrive ${topics.dlq} → ${topics.transactions}${summary.dryRun ? " (dry run: nothing moved)" : ""}`,
    `  matching letters  ${summary.matched}`,
    `  already redriven  ${summary.alreadyRedriven} (skipped)`,
  ];
  if (summary.notOriginal > 0)
    lines.push(`  not the original  ${summary.notOriginal} (card numbers masked or value cut: not moved)`);
  if (summary.otherSource > 0)
    lines.push(`  other source      ${summary.otherSource} (not from ${topics.transactions}: not moved)`);
  lines.push(
    `  ${summary.dryRun ? "would move" : "moved"}        ${summary.moved}${reasons ? ` (${reasons})` : ""}`,
  );
  return lines;
}

export async function dlqRedriveCommand(config: Config, logger: Logger, opts: DlqCliOptions): Promise<void> {
  const filter = dlqFilter(opts);
  await withRuntime(config, logger, async (rt) => {
    if (!opts.dryRun) {
      // Letters moved back onto the live topic: audited before the move (issue 35).
      await recordAudit(rt.pool, cliActor(config), [
        { action: "dlq.redrive", target: config.kafka.topics.dlq, after: { filter: opts } },
      ]);
    }
    const summary = await redrive({
      kafka: rt.kafka,
      producer: rt.producer.producer,
      redrives: createRedriveStore({ pool: rt.pool }),
      topics: config.kafka.topics,
      filter,
      dryRun: opts.dryRun ?? false,
      logger,
    });
    if (opts.json) return out(toJson(summary));
    for (const line of renderRedrive(summary, config.kafka.topics)) out(line);
  });
}

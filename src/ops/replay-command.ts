import { Presets, SingleBar } from "cli-progress";
import { cliActor } from "../audit/audit-command.ts";
import { recordAudit } from "../audit/audit-store.ts";
import { createCaseStore } from "../cases/case-store.ts";
import type { Config } from "../config.ts";
import { scoringDeps } from "../consumer/main.ts";
import type { DecisionOutcome } from "../domain/decision.ts";
import { SentinelError } from "../errors.ts";
import { withAdmin } from "../kafka/admin.ts";
import { type PartitionRange, parsePartitions, parsePosition, resolveRanges } from "../kafka/range-reader.ts";
import type { Logger } from "../logger.ts";
import { scoringModel, validateModel } from "../model/model.ts";
import { createModelStore } from "../model/model-store.ts";
import { resolveRuleSet } from "../rules/rules-command.ts";
import { scoringRules } from "../rules/scoring-rules.ts";
import type { Runtime } from "../runtime.ts";
import type { ScoringDeps } from "../scoring/score-round.ts";
import { type Backtest, backtest, readLabelsCsv, renderBacktest } from "./backtest.ts";
import { deadLetteredSources } from "./dlq.ts";
import { newTable, out, toJson, withRuntime } from "./output.ts";
import { type ReplaySummary, replay } from "./replay.ts";

/* `sentinel replay`: the command around the replay engine (./replay.ts). */

export type ReplayCliOptions = {
  from: string;
  to?: string;
  partitions?: string;
  dryRun?: boolean;
  redecide?: boolean;
  json?: boolean;
  progress?: boolean;
  /** Backtest: decide with this rule set (a published version or a .json file) instead of the active one. */
  rules?: string;
  /** Backtest labels: a CSV of transaction_id,label, over the labels table. */
  labels?: string;
  /** Label words of the CSV meaning fraud, and legitimate, beyond the ones always understood (issue 36). */
  fraudLabels?: string[];
  legitimateLabels?: string[];
  /** Backtest: decide with this stored model (model.score) instead of the active one. */
  model?: string;
  /** Read what is left of a range the topic no longer fully holds (and say so), instead of failing. */
  allowPartial?: boolean;
};

/** The human summary of a replay (pure: the text the command prints). */
export function renderReplay(
  summary: ReplaySummary,
  {
    topics,
    ranges,
    seconds,
  }: { topics: Config["kafka"]["topics"]; ranges: readonly PartitionRange[]; seconds: number },
): string[] {
  const lines: string[] = [];
  const wouldBe = summary.dryRun ? " (would be)" : "";
  lines.push(`replay of ${topics.transactions}${summary.dryRun ? " (dry run: nothing written)" : ""}`);
  const span = ranges
    .filter((r) => r.end > r.start)
    .map((r) => `${r.partition}:${r.start}-${r.end - 1n}`)
    .join(" ");
  lines.push(`  range          ${span || "(empty)"}`);
  const gone = ranges.reduce((n, x) => n + (x.gone ?? 0n), 0n);
  if (gone > 0n)
    lines.push(
      `  PARTIAL        up to ${gone} message(s) of the range asked for are no longer on the topic (--allow-partial)`,
    );
  lines.push(`  read           ${summary.read} messages in ${seconds.toFixed(1)} s`);
  lines.push(`  already stored ${summary.alreadyStored} (unchanged)`);
  lines.push(`  newly stored   ${summary.newlyStored}${wouldBe}`);
  if (summary.notStored > 0)
    lines.push(`  not stored     ${summary.notStored} (a backtest leaves them to the live group)`);
  lines.push(
    `  dead-lettered  ${summary.deadLettered}${wouldBe}, ${summary.alreadyDeadLettered} already on ${topics.dlq}`,
  );
  if (summary.duplicates > 0)
    lines.push(`  duplicates     ${summary.duplicates} (a transaction_id seen earlier in the range)`);
  const r = summary.redecided;
  if (r) {
    lines.push("");
    lines.push(
      `re-decided with rules ${summary.rulesVersion}${summary.dryRun ? " (dry run: not stored)" : " (stored beside the live decisions)"}`,
    );
    lines.push(`  scored ${r.scored}, unchanged ${r.unchanged}, moved ${r.scored - r.unchanged}`);
    if (r.moves.length > 0) {
      const table = newTable(["move", "count", "examples"]);
      for (const m of r.moves) table.push([`${m.from} → ${m.to}`, m.count, m.examples.join("\n")]);
      lines.push(table.toString());
    }
  }
  return lines;
}

/** The warning printed when a range reaches past what the live group has committed (pure). */
export function renderBeyondCommitted(
  group: string,
  beyond: ReadonlyArray<{ partition: number; committed: string | null }>,
): string | undefined {
  if (beyond.length === 0) return undefined;
  const where = beyond.map((b) => `${b.partition}:${b.committed ?? "none"}`).join(" ");
  return (
    `warning: the range reaches past what group ${group} has committed (${where}): ` +
    "the history of transactions there may be incomplete until the live group catches up"
  );
}

/** Partitions whose range ends past the live group's committed offset (history may be missing there). */
async function beyondCommitted(
  rt: Runtime,
  ranges: readonly PartitionRange[],
): Promise<Array<{ partition: number; committed: string | null }>> {
  const [topicOffsets] = await withAdmin(rt.kafka, (admin) =>
    admin.fetchOffsets({ groupId: rt.config.consumer.group, topics: [rt.config.kafka.topics.transactions] }),
  );
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
}

/** The scoring of a backtest: the active one, with the rule set and/or the model of --rules / --model. */
async function candidateScoring(
  config: Config,
  rt: Runtime,
  active: ScoringDeps,
  opts: ReplayCliOptions,
): Promise<ScoringDeps> {
  if (!opts.rules && !opts.model) return active;
  const set = opts.rules
    ? await resolveRuleSet(config, opts.rules)
    : { version: active.rules.version, ruleSet: active.rules.ruleSet };
  let model = active.rules.model;
  if (opts.model) {
    const valid = validateModel(await createModelStore({ pool: rt.pool }).get(opts.model));
    if (!valid.ok)
      throw new SentinelError("not_found", `no valid model version ${opts.model}: train it first`);
    model = scoringModel(valid.model, opts.model);
  }
  const version = opts.model ? `${set.version}+${opts.model}` : set.version;
  return {
    ...active,
    rules: scoringRules(
      set.ruleSet,
      config.rules.fxRates,
      active.rules.context.lists,
      version,
      model,
      active.rules.context.snoozes,
    ),
  };
}

export async function replayCommand(config: Config, logger: Logger, opts: ReplayCliOptions): Promise<void> {
  const from = parsePosition(opts.from);
  const to = opts.to === undefined ? undefined : parsePosition(opts.to);
  const partitions = opts.partitions === undefined ? undefined : parsePartitions(opts.partitions);
  await withRuntime(config, logger, async (rt) => {
    const { topics } = config.kafka;
    const ranges = await withAdmin(rt.kafka, (admin) =>
      resolveRanges(admin, topics.transactions, { from, to, partitions, allowPartial: opts.allowPartial }),
    );
    const total = ranges.reduce((n, r) => n + Number(r.end - r.start), 0);
    // Only the letters of this range are kept: bounded by its poison, not by the DLQ's length.
    const byPartition = new Map(ranges.map((r) => [r.partition, r]));
    const alreadyDeadLettered = await deadLetteredSources(rt.kafka, topics.dlq, (l) => {
      const r = byPartition.get(l.sourcePartition);
      if (!r || l.sourceTopic !== topics.transactions) return false;
      const o = BigInt(l.sourceOffset);
      return o >= r.start && o < r.end;
    });
    const warning = renderBeyondCommitted(config.consumer.group, await beyondCommitted(rt, ranges));
    if (warning) {
      logger.warn({ group: config.consumer.group }, "replay range beyond the live group");
      process.stderr.write(`${warning}\n`);
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
    if (opts.redecide && !opts.dryRun) {
      // An operator's re-decision changes stored decisions: audited before it starts (issue 35).
      await recordAudit(rt.pool, cliActor(config), [
        {
          action: "replay.redecide",
          target: topics.transactions,
          after: {
            ranges: ranges.map((r) => ({ partition: r.partition, from: String(r.start), to: String(r.end) })),
            ...(opts.rules ? { rules: opts.rules } : {}),
            ...(opts.model ? { model: opts.model } : {}),
          },
        },
      ]);
    }
    const started = Date.now();
    if (showBar) bar.start(total, 0, { rate: 0 });
    const active = await scoringDeps(rt);
    // A backtest decides with the rule set and/or the model named on the command line, without
    // activating either.
    const scoring = await candidateScoring(config, rt, active, opts);
    const candidate = scoring === active ? undefined : scoring.rules;
    const outcomes = new Map<string, { live: DecisionOutcome; candidate: DecisionOutcome }>();
    try {
      const summary = await replay({
        kafka: rt.kafka,
        producer: rt.producer.producer,
        topics,
        ranges,
        scoring,
        redecide: opts.redecide ?? false,
        dryRun: opts.dryRun ?? false,
        backtest: candidate !== undefined,
        chunkSize: config.consumer.chunkSize,
        maxRequestBytes: config.producer.maxBatchBytes,
        alreadyDeadLettered,
        onRedecided: (before, after) => {
          outcomes.set(before.transaction_id, { live: before.decision, candidate: after.decision });
        },
        onProgress: (done) => {
          if (showBar)
            bar.update(done, { rate: Math.round(done / Math.max(0.001, (Date.now() - started) / 1000)) });
        },
        logger,
      });
      if (showBar) bar.stop();
      let verdict: Backtest | undefined;
      if (opts.redecide) {
        const labels = await createCaseStore({ pool: rt.pool }).latestLabels([...outcomes.keys()]);
        if (opts.labels)
          for (const [id, label] of await readLabelsCsv(opts.labels, {
            fraud: opts.fraudLabels,
            legitimate: opts.legitimateLabels,
          }))
            labels.set(id, label);
        verdict = backtest(outcomes, labels);
      }
      if (opts.json) return out(toJson({ ranges, ...summary, ...(verdict ? { backtest: verdict } : {}) }));
      for (const line of renderReplay(summary, { topics, ranges, seconds: (Date.now() - started) / 1000 }))
        out(line);
      if (verdict)
        for (const line of renderBacktest(verdict, "live decisions", summary.rulesVersion)) out(line);
    } finally {
      if (showBar) bar.stop();
    }
  });
}

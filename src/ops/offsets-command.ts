import { auditOperatorAction } from "../audit/audit-command.ts";
import type { Config } from "../config.ts";
import { withAdmin } from "../kafka/admin.ts";
import { createKafka } from "../kafka/client.ts";
import { describeOffsets, type GroupOffsets, type Reset, resetOffsets } from "../kafka/offsets.ts";
import { parsePosition } from "../kafka/range-reader.ts";
import type { Logger } from "../logger.ts";
import { newTable, out, toJson } from "./output.ts";

/* `sentinel offsets`: the scorer group's lag per partition; `--reset-to` moves it while stopped. */

/** The lag table and its summary line (pure). */
export function renderOffsets(o: GroupOffsets, groupId: string, topic: string): string[] {
  const table = newTable(["partition", "committed", "end", "lag"]);
  for (const p of o.partitions)
    table.push([p.partition, p.committed?.toString() ?? "(none)", String(p.high), String(p.lag)]);
  return [
    table.toString(),
    `group ${groupId} on ${topic}: ${o.state}, ${o.members.length} member(s), total lag ${o.totalLag}`,
  ];
}

/** The reset table and its summary line (pure). */
export function renderResets(
  resets: readonly Reset[],
  { groupId, topic, to, dryRun }: { groupId: string; topic: string; to: string; dryRun: boolean },
): string[] {
  const table = newTable(["partition", "committed before", "committed now"]);
  for (const r of resets) table.push([r.partition, r.from?.toString() ?? "(none)", String(r.to)]);
  return [table.toString(), `${dryRun ? "would reset" : "reset"} group ${groupId} on ${topic} to ${to}`];
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
    security: config.kafka.security,
  });
  await withAdmin(kafka, async (admin) => {
    if (to) {
      const resets = await resetOffsets(admin, groupId, topic, to, { dryRun: opts.dryRun });
      if (!opts.dryRun) {
        // The group's position moved: what it was and what it is now (issue 35).
        await auditOperatorAction(config, {
          action: "offsets.reset",
          target: `${groupId} ${topic}`,
          before: resets.map((r) => ({ partition: r.partition, offset: r.from?.toString() ?? null })),
          after: {
            to: opts.resetTo,
            offsets: resets.map((r) => ({ partition: r.partition, offset: String(r.to) })),
          },
        });
      }
      if (opts.json) return out(toJson(resets.map((r) => ({ ...r, from: r.from ?? null }))));
      for (const line of renderResets(resets, {
        groupId,
        topic,
        to: opts.resetTo!,
        dryRun: opts.dryRun ?? false,
      }))
        out(line);
      return;
    }
    const o = await describeOffsets(admin, groupId, topic);
    if (opts.json) {
      return out(
        toJson({ ...o, partitions: o.partitions.map((p) => ({ ...p, committed: p.committed ?? null })) }),
      );
    }
    for (const line of renderOffsets(o, groupId, topic)) out(line);
  });
}

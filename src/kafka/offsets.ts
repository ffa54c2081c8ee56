import type { Admin } from "kafkajs";
import { SentinelError } from "../errors.ts";
import { type Position, resolveRanges } from "./range-reader.ts";

/*
 * `sentinel offsets`: where the scorer group stands on `transactions`, and moving it while it is
 * stopped. Kafka itself refuses to change the offsets of a group with members; we check first to
 * say so in words an operator can act on.
 */

export type PartitionLag = {
  partition: number;
  /** Next offset the group will read; undefined when it never committed (it starts at the earliest). */
  committed: bigint | undefined;
  low: bigint;
  high: bigint;
  lag: bigint;
};

export type GroupOffsets = {
  groupId: string;
  state: string;
  members: Array<{ clientId: string; host: string }>;
  partitions: PartitionLag[];
  totalLag: bigint;
};

/**
 * The group's committed offsets on `topic` (partition → the next offset it reads; a partition it
 * never committed is absent). Asked of the group coordinator alone: it answers while a dead broker
 * still leads some partitions, when the end offsets cannot be read.
 */
export async function fetchCommitted(
  admin: Admin,
  groupId: string,
  topic: string,
): Promise<Map<number, bigint>> {
  const answer = await admin.fetchOffsets({ groupId, topics: [topic] });
  const committed = new Map<number, bigint>();
  for (const p of answer.find((t) => t.topic === topic)?.partitions ?? []) {
    const offset = BigInt(p.offset);
    if (offset >= 0n) committed.set(p.partition, offset);
  }
  return committed;
}

export async function describeOffsets(admin: Admin, groupId: string, topic: string): Promise<GroupOffsets> {
  const [marks, byPartition, groups] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    fetchCommitted(admin, groupId, topic),
    admin.describeGroups([groupId]),
  ]);
  const partitions = marks
    .map((m) => {
      const low = BigInt(m.low);
      const high = BigInt(m.high);
      const at = byPartition.get(m.partition);
      const from = at === undefined || at < low ? low : at;
      return { partition: m.partition, committed: at, low, high, lag: high > from ? high - from : 0n };
    })
    .sort((a, b) => a.partition - b.partition);
  const group = groups.groups[0];
  return {
    groupId,
    state: group?.state ?? "Dead",
    members: (group?.members ?? []).map((m) => ({ clientId: m.clientId, host: m.clientHost })),
    partitions,
    totalLag: partitions.reduce((n, p) => n + p.lag, 0n),
  };
}

export type Reset = { partition: number; from: bigint | undefined; to: bigint };

/**
 * Sets the group's committed offset on every partition of `topic` to `to` (earliest, latest or a
 * time: the first offset at or after it).
 * @throws SentinelError unavailable while the group has active members.
 */
export async function resetOffsets(
  admin: Admin,
  groupId: string,
  topic: string,
  to: Position,
  { dryRun = false } = {},
): Promise<Reset[]> {
  if (to.kind === "offsets") {
    throw new SentinelError("validation_failed", "--reset-to takes earliest, latest or an RFC 3339 time");
  }
  const before = await describeOffsets(admin, groupId, topic);
  if (before.members.length > 0) {
    const who = before.members.map((m) => `${m.clientId}@${m.host}`).join(", ");
    throw new SentinelError(
      "unavailable",
      `group ${groupId} has ${before.members.length} active member(s) (${who}); stop every ` +
        "`sentinel consume` / `sentinel all` of this group first, then reset",
    );
  }
  const ranges = await resolveRanges(admin, topic, { from: to });
  const resets = ranges.map((r) => ({
    partition: r.partition,
    from: before.partitions.find((p) => p.partition === r.partition)?.committed,
    to: r.start,
  }));
  if (!dryRun) {
    await admin.setOffsets({
      groupId,
      topic,
      partitions: resets.map((r) => ({ partition: r.partition, offset: String(r.to) })),
    });
  }
  return resets;
}

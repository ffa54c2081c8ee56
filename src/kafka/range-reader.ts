import { randomBytes } from "node:crypto";
import type { Admin, Kafka, KafkaMessage } from "kafkajs";
import { pino } from "pino";
import { SentinelError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { createGroupConsumer } from "./group-consumer.ts";

/*
 * Bounded reads of a topic for the SRE tools (replay, dlq list/redrive): a range of offsets per
 * partition, fixed when the command starts, read by a consumer group of the tool's own (the live
 * group is never touched) which is deleted afterwards.
 */

/** Offsets [start, end) of one partition. */
export type PartitionRange = {
  partition: number;
  start: bigint;
  end: bigint;
  /**
   * Messages of the range asked for that the topic no longer holds (retention, deleted records):
   * exact for an offset, at most this many for a time (the messages before the earliest one held).
   */
  gone?: bigint;
};

/** Where a range begins or ends: a time, explicit partition offsets, or the topic's ends. */
export type Position =
  | { kind: "earliest" }
  | { kind: "latest" }
  | { kind: "time"; ms: number }
  | { kind: "offsets"; offsets: ReadonlyMap<number, bigint> };

/**
 * Parses `earliest`, `latest`, an RFC 3339 time (`2026-11-28T10:00:00Z`) or `partition:offset`
 * pairs separated by commas (`3:1200,4:0`).
 * @throws SentinelError validation_failed naming what is wrong.
 */
export function parsePosition(text: string): Position {
  const s = text.trim();
  if (s === "earliest" || s === "latest") return { kind: s };
  if (/^\d+:\d+(,\d+:\d+)*$/.test(s)) {
    const offsets = new Map<number, bigint>();
    for (const pair of s.split(",")) {
      const [p, o] = pair.split(":");
      const partition = Number(p);
      if (offsets.has(partition)) throw new SentinelError("validation_failed", `partition ${p} given twice`);
      offsets.set(partition, BigInt(o!));
    }
    return { kind: "offsets", offsets };
  }
  // RFC 3339 with a zone: no guessing at local time for an incident timeline.
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(s)) {
    const ms = Date.parse(s);
    if (Number.isFinite(ms)) return { kind: "time", ms };
  }
  throw new SentinelError(
    "validation_failed",
    `"${text}" is not earliest, latest, an RFC 3339 time with a zone (2026-11-28T10:00:00Z) or partition:offset[,partition:offset]`,
  );
}

/** Parses `0,3,5` into partition numbers. */
export function parsePartitions(text: string): number[] {
  if (!/^\d+(,\d+)*$/.test(text.trim())) {
    throw new SentinelError("validation_failed", `"${text}" is not a list of partitions such as 0,3,5`);
  }
  return [...new Set(text.trim().split(",").map(Number))].sort((a, b) => a - b);
}

type Watermarks = Map<number, { low: bigint; high: bigint }>;

async function watermarks(admin: Admin, topic: string): Promise<Watermarks> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }]));
}

/** First offset per partition whose timestamp is at or after `ms` (the high watermark if none). */
async function offsetsAt(admin: Admin, topic: string, ms: number): Promise<Map<number, bigint>> {
  const found = await admin.fetchTopicOffsetsByTimestamp(topic, ms);
  return new Map(found.map((o) => [o.partition, BigInt(o.offset)]));
}

const clamp = (v: bigint, lo: bigint, hi: bigint) => (v < lo ? lo : v > hi ? hi : v);

/**
 * Turns --from/--to/--partitions into offset ranges, fixed now: messages written after this call
 * are not part of the range. `to` is exclusive for a time (messages before it) and inclusive for
 * partition:offset (up to and including that offset); absent, the range ends at today's end.
 * A `from` given as partition offsets limits the range to those partitions.
 */
export async function resolveRanges(
  admin: Admin,
  topic: string,
  spec: { from: Position; to?: Position; partitions?: readonly number[]; allowPartial?: boolean },
): Promise<PartitionRange[]> {
  const marks = await watermarks(admin, topic);
  let partitions = [...marks.keys()].sort((a, b) => a - b);
  if (spec.partitions) {
    const missing = spec.partitions.filter((p) => !marks.has(p));
    if (missing.length > 0) {
      throw new SentinelError(
        "validation_failed",
        `topic ${topic} has partitions 0-${marks.size - 1}; no partition ${missing.join(", ")}`,
      );
    }
    partitions = [...spec.partitions];
  }
  for (const position of [spec.from, spec.to]) {
    if (position?.kind !== "offsets") continue;
    const missing = [...position.offsets.keys()].filter((p) => !marks.has(p));
    if (missing.length > 0) {
      throw new SentinelError("validation_failed", `topic ${topic} has no partition ${missing.join(", ")}`);
    }
  }
  if (spec.from.kind === "offsets") {
    const from = spec.from.offsets;
    partitions = partitions.filter((p) => from.has(p));
  }

  const resolve = async (position: Position, edge: "start" | "end") => {
    switch (position.kind) {
      case "earliest":
        return new Map([...marks].map(([p, m]) => [p, m.low]));
      case "latest":
        return new Map([...marks].map(([p, m]) => [p, m.high]));
      case "time":
        return offsetsAt(admin, topic, position.ms);
      case "offsets":
        return new Map(
          [...position.offsets].map(([p, o]) => [p, edge === "end" ? o + 1n : o] as [number, bigint]),
        );
    }
  };
  const starts = await resolve(spec.from, "start");
  const ends = spec.to ? await resolve(spec.to, "end") : undefined;
  const ranges = partitions.map((partition) => {
    const { low, high } = marks.get(partition)!;
    const asked = starts.get(partition) ?? low;
    const start = clamp(asked, low, high);
    const end = clamp(ends?.get(partition) ?? high, start, high);
    // An offset below the earliest held is gone; a time whose first message is the earliest held,
    // on a partition that lost messages, may have begun among the lost ones.
    const gone =
      spec.from.kind === "offsets"
        ? asked < low
          ? low - asked
          : 0n
        : spec.from.kind === "time" && asked <= low && low < high
          ? low
          : 0n;
    return gone > 0n ? { partition, start, end, gone } : { partition, start, end };
  });
  const gone = ranges.reduce((n, r) => n + (r.gone ?? 0n), 0n);
  if (gone > 0n && !spec.allowPartial) {
    const earliest = ranges
      .filter((r) => r.gone)
      .map((r) => `${r.partition}:${marks.get(r.partition)!.low}`)
      .join(", ");
    throw new SentinelError(
      "validation_failed",
      `the range asked for starts before what ${topic} still holds: asked from ${describePosition(spec.from)}, the earliest messages left are at offsets ${earliest} (partition:offset), and ${spec.from.kind === "time" ? "up to " : ""}${gone} message(s) before them are gone (retention). Nothing was read; --allow-partial reads what is left and says so`,
      { details: { gone: Number(gone) } },
    );
  }
  return ranges;
}

function describePosition(p: Position): string {
  if (p.kind === "time") return new Date(p.ms).toISOString();
  if (p.kind === "offsets") return [...p.offsets].map(([k, v]) => `${k}:${v}`).join(",");
  return p.kind;
}

export type ReadOptions = {
  /** Called with each partition's messages in offset order, in pieces of at most `chunkSize`. */
  onMessages(partition: number, messages: KafkaMessage[]): Promise<void>;
  chunkSize?: number;
  partitionsConcurrency?: number;
  /** Gives up (throws) when the range is not read within this time. */
  timeoutMs?: number;
  groupPrefix?: string;
  /** Where the reader's consumer reports a crash kafkajs restarts (default: nowhere). */
  logger?: Logger;
};

/**
 * Reads the ranges of `topic` with a consumer group of its own (deleted afterwards) and returns
 * when every range is read, each message handed over once, in offset order per partition.
 * @throws SentinelError broker_unavailable on timeout; whatever `onMessages` throws.
 */
export async function readRanges(
  kafka: Kafka,
  topic: string,
  ranges: readonly PartitionRange[],
  options: ReadOptions,
): Promise<void> {
  const todo = new Map(ranges.filter((r) => r.end > r.start).map((r) => [r.partition, r]));
  if (todo.size === 0) return;
  const groupId = `${options.groupPrefix ?? "sentinel-tool"}-${Date.now()}-${randomBytes(3).toString("hex")}`;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const partitions = (await admin.fetchTopicOffsets(topic)).map((o) => o.partition);
    // The next offset to hand over per partition: a batch fetched before the seek took effect, or
    // fetched again, is never handed over twice.
    const next = new Map([...todo.values()].map((r) => [r.partition, r.start]));
    let failed: unknown;
    // Settled once: every range read, or the first failure (a batch's, the run's, kafkajs giving
    // up on the consumer, the time limit).
    const reading = Promise.withResolvers<void>();
    reading.promise.catch(() => {}); // awaited below; a failure before then is not unhandled
    const fail = (error: unknown) => {
      failed ??= error;
      reading.reject(error);
    };
    const { consumer } = createGroupConsumer(kafka, {
      groupId,
      name: "range reader",
      logger: options.logger ?? pino({ level: "silent" }),
      maxWaitTimeInMs: 100,
      maxBytesPerPartition: 2 * 1024 * 1024,
      onFatal: fail,
    });
    const chunkSize = options.chunkSize ?? 1_000;
    const timer = setTimeout(
      () => fail(new SentinelError("broker_unavailable", `reading ${topic} timed out`)),
      options.timeoutMs ?? 30 * 60_000,
    );
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      consumer
        .run({
          autoCommit: false,
          partitionsConsumedConcurrently: options.partitionsConcurrency ?? 4,
          eachBatch: async ({ batch, heartbeat }) => {
            const range = todo.get(batch.partition);
            if (!range || failed) return;
            const from = next.get(batch.partition)!;
            const inRange = batch.messages.filter((m) => {
              const o = BigInt(m.offset);
              return o >= from && o < range.end;
            });
            try {
              for (let i = 0; i < inRange.length; i += chunkSize) {
                const chunk = inRange.slice(i, i + chunkSize);
                await options.onMessages(batch.partition, chunk);
                next.set(batch.partition, BigInt(chunk[chunk.length - 1]!.offset) + 1n);
                await heartbeat();
              }
            } catch (error) {
              fail(error);
              return;
            }
            // Done once the batch reaches the end (offsets may skip: control records).
            if (BigInt(batch.lastOffset()) + 1n >= range.end) {
              todo.delete(batch.partition);
              consumer.pause([{ topic, partitions: [batch.partition] }]);
              if (todo.size === 0) reading.resolve();
            }
          },
        })
        .then(() => {
          // Seek, not admin.setOffsets (which joins the group itself and then idles for 5 s).
          // Partitions outside the ranges are not fetched at all.
          const others = partitions.filter((p) => !todo.has(p));
          if (others.length > 0) consumer.pause([{ topic, partitions: others }]);
          for (const r of todo.values()) {
            consumer.seek({ topic, partition: r.partition, offset: String(r.start) });
          }
        })
        .catch(fail);
      await reading.promise;
    } finally {
      clearTimeout(timer);
      await consumer.disconnect();
    }
  } finally {
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.disconnect();
  }
}

import type { IHeaders, KafkaMessage, Message } from "kafkajs";
import { maskPans } from "../domain/pan.ts";
import { maskPanBytes } from "../domain/pan-bytes.ts";
import type { DeadLetterReason } from "./transaction-codec.ts";

/*
 * Dead letters on `transactions.dlq`: the original key and value, and headers saying why and where
 * the message failed. Written by the consumer and replay, read back by `dlq list`/`dlq redrive` and
 * replay — all through this file, so the header names exist once.
 *
 * Law 7: the DLQ is not a card-number store. Any PAN in the key, value or error text is masked
 * (first 6 and last 4 digits kept) and `x-pan-masked: true` says so; such a letter cannot be
 * redriven as it was (it would be refused again anyway).
 */

export const DLQ_HEADERS = {
  error: "x-error",
  reason: "x-error-reason",
  sourceTopic: "x-source-topic",
  sourcePartition: "x-source-partition",
  sourceOffset: "x-source-offset",
  sourceTimestamp: "x-source-timestamp",
  panMasked: "x-pan-masked",
  /** The value was cut to fit the broker's request limit; the header holds the original length. */
  truncated: "x-value-truncated",
  /** Set on messages a redrive published back to `transactions`. */
  redrivenFrom: "x-redriven-from",
  originalSource: "x-original-source",
} as const;

/** Headers, key and framing overhead allowed for in a letter, beside its value. */
const LETTER_OVERHEAD_BYTES = 2_048;

/** A poison message found by the consumer, before it is written as a letter. */
export type DeadLetter = {
  message: Pick<KafkaMessage, "key" | "value" | "offset" | "timestamp">;
  reason: DeadLetterReason;
  detail: string;
};

/** Identifies a dead letter by where its message was read (the DLQ tools and replay dedupe on it). */
export function sourceKey(topic: string, partition: number | string, offset: string | bigint): string {
  return `${topic}/${partition}/${offset}`;
}

/**
 * The DLQ message for a poison message read at `topic`/`partition`, PANs masked, its value cut to
 * fit `maxBytes` (the producer's request limit) when it would not.
 */
export function encodeDeadLetter(d: DeadLetter, topic: string, partition: number, maxBytes: number): Message {
  let key = d.message.key;
  let value = d.message.value;
  let masked = false;
  if (key) {
    const k = maskPanBytes(key);
    key = k.value;
    masked ||= k.masked;
  }
  if (value) {
    const v = maskPanBytes(value);
    value = v.value;
    masked ||= v.masked;
  }
  const headers: IHeaders = {
    [DLQ_HEADERS.error]: maskPans(`${d.reason}: ${d.detail}`.slice(0, 1000)),
    [DLQ_HEADERS.reason]: d.reason,
    [DLQ_HEADERS.sourceTopic]: topic,
    [DLQ_HEADERS.sourcePartition]: String(partition),
    [DLQ_HEADERS.sourceOffset]: d.message.offset,
    [DLQ_HEADERS.sourceTimestamp]: d.message.timestamp,
  };
  if (masked) headers[DLQ_HEADERS.panMasked] = "true";
  const room = Math.max(0, maxBytes - LETTER_OVERHEAD_BYTES - (key?.length ?? 0));
  if (value && value.length > room) {
    headers[DLQ_HEADERS.truncated] = String(value.length);
    value = value.subarray(0, room);
  }
  return { key, value, headers };
}

/** A dead letter as read back from the DLQ. */
export type DeadLetterRecord = {
  dlqPartition: number;
  dlqOffset: string;
  /** When it was dead-lettered (the DLQ message's timestamp), ms. */
  timestampMs: number;
  reason: string;
  error: string;
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: string;
  panMasked: boolean;
  truncated: boolean;
  key: Buffer | null;
  value: Buffer | null;
};

export function header(headers: IHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v[0] : v)?.toString("utf8");
}

/** Reads a DLQ message; a letter written by hand without our headers is identified by its own place. */
export function decodeDeadLetter(dlqTopic: string, partition: number, m: KafkaMessage): DeadLetterRecord {
  const h = m.headers;
  const sourceTopic = header(h, DLQ_HEADERS.sourceTopic);
  const sourcePartition = Number(header(h, DLQ_HEADERS.sourcePartition));
  const sourceOffset = header(h, DLQ_HEADERS.sourceOffset);
  const known = sourceTopic !== undefined && Number.isInteger(sourcePartition) && sourceOffset !== undefined;
  return {
    dlqPartition: partition,
    dlqOffset: m.offset,
    timestampMs: Number(m.timestamp),
    reason: header(h, DLQ_HEADERS.reason) ?? "unknown",
    error: header(h, DLQ_HEADERS.error) ?? "",
    sourceTopic: known ? sourceTopic : dlqTopic,
    sourcePartition: known ? sourcePartition : partition,
    sourceOffset: known ? sourceOffset : m.offset,
    panMasked: header(h, DLQ_HEADERS.panMasked) === "true",
    truncated: header(h, DLQ_HEADERS.truncated) !== undefined,
    key: m.key,
    value: m.value,
  };
}

/** A letter's source as `sourceKey` writes it: what replay and redrive dedupe on. */
export const keyOf = (r: Pick<DeadLetterRecord, "sourceTopic" | "sourcePartition" | "sourceOffset">) =>
  sourceKey(r.sourceTopic, r.sourcePartition, r.sourceOffset);

import type { KafkaMessage } from "kafkajs";
import type { z } from "zod";
import type { Transaction } from "../domain/transaction.ts";
import { createTransactionSchema, DEFAULT_MAX_AGE_MS, validateTransaction } from "../domain/transaction.ts";

/*
 * Decoding of `transactions` messages: plain UTF-8 JSON, or the Confluent wire format (magic byte 0,
 * 4-byte big-endian schema id, then the JSON), chosen per message by its first byte. A message that
 * fails here is poison: the caller dead-letters it with `reason` and moves on (law 4).
 */

export type DeadLetterReason =
  | "oversized"
  | "missing_key"
  | "key_mismatch"
  | "empty_value"
  | "not_json"
  | "unknown_schema_id"
  | "schema_violation"
  | "pan_not_allowed"
  /** valid, but PostgreSQL refused to store it (found by the consumer, not by decoding) */
  | "store_rejected"
  /** valid, but its transaction_id is stored with another user, amount, currency or merchant */
  | "id_conflict"
  /** on a webhook source topic (decisions, labels, events): no event of ours (issue 35) */
  | "invalid_event";

export type Decoded =
  | {
      ok: true;
      tx: Transaction;
      /** The transaction's own `timestamp` (client-chosen data), else its Kafka timestamp. */
      eventTimeMs: number;
      /**
       * The message's Kafka timestamp: the clock of the history rules. The broker stamps it on
       * append (LogAppendTime, the topic's default here) or the ingress stamps its receive time;
       * a client cannot choose it, and it is in the log, so a replay reads the same clock.
       */
      receivedMs: number;
      schemaId: number | undefined;
    }
  | { ok: false; reason: DeadLetterReason; detail: string };

export type DecodeOptions = {
  schema: z.ZodType<Transaction>;
  /** The reference time `schema` checks timestamps against; decode sets it to each message's. */
  clock: { now: number };
  maxBytes: number;
  /**
   * Whether a framed value's schema id is a transaction schema; absent means no registry is
   * configured. Anything but `true` dead-letters the value (resolve ids before decoding).
   */
  isKnownSchemaId?: (id: number) => boolean | undefined;
};

const MAGIC_BYTE = 0;

/** Decode options whose schema checks each message's timestamp against its own Kafka timestamp. */
export function createDecodeOptions({
  maxBytes,
  maxAgeMs = DEFAULT_MAX_AGE_MS,
}: {
  maxBytes: number;
  maxAgeMs?: number;
}): DecodeOptions {
  const clock = { now: 0 };
  return { schema: createTransactionSchema(() => clock.now, maxAgeMs), clock, maxBytes };
}

export function encodeTransaction(tx: Transaction, schemaId?: number): Buffer {
  const json = Buffer.from(JSON.stringify(tx));
  if (schemaId === undefined) return json;
  const header = Buffer.alloc(5);
  header.writeUInt8(MAGIC_BYTE, 0);
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, json]);
}

/** The schema id of a Confluent-framed value, or undefined for anything else. */
export function framedSchemaId(value: Buffer | null): number | undefined {
  return value && value.length >= 5 && value[0] === MAGIC_BYTE ? value.readUInt32BE(1) : undefined;
}

function fail(reason: DeadLetterReason, detail: string): Decoded {
  return { ok: false, reason, detail };
}

export function decodeTransaction(
  message: Pick<KafkaMessage, "key" | "value" | "timestamp">,
  options: DecodeOptions,
): Decoded {
  const value = message.value;
  if (!value || value.length === 0) return fail("empty_value", "message has no value");
  if (value.length > options.maxBytes)
    return fail("oversized", `value is ${value.length} bytes, limit ${options.maxBytes}`);
  if (!message.key || message.key.length === 0)
    return fail("missing_key", "message has no key (must be user_id)");

  let json = value;
  let schemaId: number | undefined;
  if (value[0] === MAGIC_BYTE) {
    if (value.length < 5) return fail("not_json", "framed value shorter than its 5-byte header");
    schemaId = value.readUInt32BE(1);
    if (options.isKnownSchemaId?.(schemaId) !== true) {
      return fail("unknown_schema_id", `schema id ${schemaId} is not a registered transaction schema`);
    }
    json = value.subarray(5);
  }

  let body: unknown;
  try {
    body = JSON.parse(json.toString("utf8"));
  } catch (error) {
    return fail("not_json", (error as Error).message);
  }

  const receivedMs = Number(message.timestamp);
  options.clock.now = receivedMs;
  const result = validateTransaction(options.schema, body);
  if (!result.ok) {
    return fail(
      result.code === "pan_not_allowed" ? "pan_not_allowed" : "schema_violation",
      result.issues.map((i) => `${i.path}: ${i.message}`).join("; "),
    );
  }
  const tx = result.value;
  const key = message.key.toString("utf8");
  if (key !== tx.user_id) return fail("key_mismatch", `key "${key}" is not the user_id`);
  const eventTimeMs = tx.timestamp ? Date.parse(tx.timestamp) : receivedMs;
  return { ok: true, tx, eventTimeMs, receivedMs, schemaId };
}

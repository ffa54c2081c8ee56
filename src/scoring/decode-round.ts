import type { KafkaMessage } from "kafkajs";
import type { SourcedTransaction } from "../domain/transaction.ts";
import { payloadFingerprint, type Transaction } from "../domain/transaction.ts";
import type { TransactionSchemaIds } from "../kafka/schema-registry.ts";
import { type DecodeOptions, decodeTransaction, framedSchemaId } from "../kafka/transaction-codec.ts";
import type { Chunk, ChunkResult, DeadLetter } from "./round.ts";

/** A valid transaction of the round, with its chunk (index in the round) and message. */
export type Candidate = SourcedTransaction & { chunk: number; message: KafkaMessage };

/** A later message repeating a transaction_id with the same payload (dead-lettered with it on a conflict). */
export type Repeat = { chunk: number; message: KafkaMessage; id: string };

export type Decoded = { valid: Candidate[]; repeats: Repeat[] };

export type DecodeDeps = {
  decode: DecodeOptions;
  /** Set when a Schema Registry is configured: framed values are accepted under these ids. */
  schemaIds?: Pick<TransactionSchemaIds, "isKnown" | "resolve">;
};

export function conflict(message: KafkaMessage, id: string): DeadLetter {
  return {
    message,
    reason: "id_conflict",
    detail: `transaction_id ${id} is already used by a transaction with another user, amount, currency or merchant`,
  };
}

/** Resolves the schema ids the round's framed values name (a registry outage is retried, not dead-lettered). */
async function decodeOptionsFor(deps: DecodeDeps, chunks: readonly Chunk[]): Promise<DecodeOptions> {
  const schemaIds = deps.schemaIds;
  if (!schemaIds) return deps.decode;
  const ids = new Set<number>();
  for (const { messages } of chunks) {
    for (const m of messages) {
      const id = framedSchemaId(m.value);
      if (id !== undefined) ids.add(id);
    }
  }
  if (ids.size > 0) await schemaIds.resolve(ids);
  return { ...deps.decode, isKnownSchemaId: (id) => schemaIds.isKnown(id) };
}

/**
 * Phase 1, decode: valid transactions in topic order, poison into the results' dead letters. A
 * transaction_id repeated with the same payload is one transaction (a client retry); repeated with
 * another payload, the later message is an `id_conflict`.
 * @throws SentinelError(registry_unavailable) while the Schema Registry cannot be reached.
 */
export async function decodeRound(
  deps: DecodeDeps,
  chunks: readonly Chunk[],
  results: ChunkResult[],
): Promise<Decoded> {
  const decode = await decodeOptionsFor(deps, chunks);
  // The first transaction of each id: a repeat is compared with it (fingerprints only then, not per message).
  const seen = new Map<string, Transaction>();
  const valid: Candidate[] = [];
  const repeats: Repeat[] = [];
  chunks.forEach(({ partition, messages }, c) => {
    for (const message of messages) {
      const decoded = decodeTransaction(message, decode);
      if (!decoded.ok) {
        results[c]!.deadLetters.push({ message, reason: decoded.reason, detail: decoded.detail });
        continue;
      }
      const tx = { ...decoded.tx, transaction_id: decoded.tx.transaction_id.toLowerCase() };
      const earlier = seen.get(tx.transaction_id);
      if (earlier !== undefined) {
        if (payloadFingerprint(earlier) !== payloadFingerprint(tx)) {
          results[c]!.deadLetters.push(conflict(message, tx.transaction_id));
        } else repeats.push({ chunk: c, message, id: tx.transaction_id });
        continue; // a retried post read again at once: one transaction, one decision
      }
      seen.set(tx.transaction_id, tx);
      valid.push({
        tx,
        eventTimeMs: decoded.eventTimeMs,
        receivedMs: decoded.receivedMs,
        partition,
        offset: Number(message.offset),
        chunk: c,
        message,
      });
    }
  });
  return { valid, repeats };
}

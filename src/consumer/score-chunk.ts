import type { KafkaMessage } from "kafkajs";
import type { ProfileCache } from "../cache/redis-profile-cache.ts";
import type { Decision } from "../domain/decision.ts";
import { type DeadLetterReason, type DecodeOptions, decodeTransaction } from "../kafka/transaction-codec.ts";
import { evaluate, type HistoryEntry, type RuleSettings } from "../rules/rules.ts";
import type { SourcedTransaction, StoredHistoryRow, TransactionStore } from "../store/transaction-store.ts";

export type DeadLetter = { message: KafkaMessage; reason: DeadLetterReason; detail: string };

export type ChunkResult = {
  /** One per distinct transaction in the chunk, new or already stored, in topic order. */
  decisions: Array<{ decision: Decision; replayed: boolean }>;
  deadLetters: DeadLetter[];
};

export type ChunkScorerDeps = {
  store: Pick<TransactionStore, "findLiveDecisions" | "findHistory" | "storeDecided">;
  profiles: Pick<ProfileCache, "getMany">;
  rules: RuleSettings;
  rulesVersion: string;
  decode: DecodeOptions;
  now?: () => number;
};

/** Whether `h` came before `tx` in the topic: by offset within a partition, else by event time. */
function isEarlier(h: StoredHistoryRow, tx: SourcedTransaction): boolean {
  return h.partition === tx.partition ? h.offset < tx.offset : h.eventTimeMs < tx.eventTimeMs;
}

/*
 * History lives in PostgreSQL, not in Redis sorted sets: the transactions table already holds every
 * transaction exactly once (primary key transaction_id) with where it was read, and it is written
 * in the same statement as the decision, so history and decisions can never disagree after a
 * crash, and a replay counts each transaction once without a second store to keep idempotent.
 * Redis holds only a cache of profiles, which may be lost at any time. One query per chunk reads
 * the history of every user in it (index on user_id, event_time).
 */

export type Chunk = { partition: number; messages: readonly KafkaMessage[] };

/**
 * Turns chunks (each from one partition, messages in offset order; usually the chunks that several
 * partitions have ready at the same moment) into stored transactions and decisions. Four round
 * trips whatever the number of chunks and messages: stored decisions, profiles and history in
 * parallel, then one insert. Returns one result per chunk, in order. Throws SentinelError on
 * infrastructure faults; the caller retries, which is safe because every write is idempotent on
 * transaction_id.
 */
export async function scoreChunks(deps: ChunkScorerDeps, chunks: readonly Chunk[]): Promise<ChunkResult[]> {
  const now = deps.now ?? Date.now;
  const results: ChunkResult[] = chunks.map(() => ({ decisions: [], deadLetters: [] }));
  const seen = new Set<string>();
  const valid: SourcedTransaction[] = [];
  const chunkOf: number[] = [];
  chunks.forEach(({ partition, messages }, c) => {
    for (const message of messages) {
      const decoded = decodeTransaction(message, deps.decode);
      if (!decoded.ok) {
        results[c]!.deadLetters.push({ message, reason: decoded.reason, detail: decoded.detail });
        continue;
      }
      const id = decoded.tx.transaction_id.toLowerCase();
      if (seen.has(id)) continue; // a retried post read again at once: one transaction, one decision
      seen.add(id);
      valid.push({
        tx: { ...decoded.tx, transaction_id: id },
        eventTimeMs: decoded.eventTimeMs,
        partition,
        offset: Number(message.offset),
      });
      chunkOf.push(c);
    }
  });
  if (valid.length === 0) return results;

  // The three reads do not depend on each other: one round trip of latency, not three. (A chunk
  // that turns out to be all replays has loaded profiles and history for nothing; replays are rare.)
  const users = [...new Set(valid.map((v) => v.tx.user_id))];
  const widest = Math.max(deps.rules.spendWindowHours * 3_600_000, deps.rules.velocityWindowSeconds * 1000);
  let minTime = Number.POSITIVE_INFINITY;
  let maxTime = Number.NEGATIVE_INFINITY;
  for (const v of valid) {
    minTime = Math.min(minTime, v.eventTimeMs);
    maxTime = Math.max(maxTime, v.eventTimeMs);
  }
  const [stored, profiles, historyRows] = await Promise.all([
    deps.store.findLiveDecisions(valid.map((v) => v.tx.transaction_id)),
    deps.profiles.getMany(users),
    deps.store.findHistory(users, minTime - widest, maxTime),
  ]);
  const fresh = valid.filter((v) => !stored.has(v.tx.transaction_id));

  const decided = new Map<string, Decision>();
  if (fresh.length > 0) {
    const historyByUser = new Map<string, StoredHistoryRow[]>();
    for (const row of historyRows) {
      const list = historyByUser.get(row.userId);
      if (list) list.push(row);
      else historyByUser.set(row.userId, [row]);
    }
    // Transactions of these chunks decided so far, per user: earlier in the topic than the next one
    // (law 3; a user's messages are all in one partition, so in one chunk).
    const chunkHistory = new Map<string, HistoryEntry[]>();
    const decidedAt = new Date(now()).toISOString();

    for (const v of fresh) {
      const { tx } = v;
      const history: HistoryEntry[] = [];
      const counted = new Set<string>();
      for (const h of historyByUser.get(tx.user_id) ?? []) {
        if (isEarlier(h, v) && !counted.has(h.transactionId)) {
          counted.add(h.transactionId);
          history.push(h);
        }
      }
      for (const h of chunkHistory.get(tx.user_id) ?? []) {
        if (!counted.has(h.transactionId)) history.push(h);
      }
      const verdict = evaluate(
        deps.rules,
        {
          transactionId: tx.transaction_id,
          userId: tx.user_id,
          amount: tx.amount,
          currency: tx.currency,
          country: tx.country,
          eventTimeMs: v.eventTimeMs,
        },
        profiles.get(tx.user_id) ?? null,
        history,
      );
      decided.set(tx.transaction_id, {
        transaction_id: tx.transaction_id,
        user_id: tx.user_id,
        decision: verdict.decision,
        score: verdict.score,
        reasons: verdict.reasons,
        rules_version: deps.rulesVersion,
        decided_at: decidedAt,
      });
      const entry = {
        transactionId: tx.transaction_id,
        amount: tx.amount,
        currency: tx.currency,
        eventTimeMs: v.eventTimeMs,
      };
      const list = chunkHistory.get(tx.user_id);
      if (list) list.push(entry);
      else chunkHistory.set(tx.user_id, [entry]);
    }

    const inserted = await deps.store.storeDecided(
      fresh.map((v) => ({ source: v, decision: decided.get(v.tx.transaction_id)! })),
    );
    // Another consumer (a zombie after a rebalance) stored some first: theirs is the decision of record.
    const lost = fresh.filter((v) => !inserted.has(v.tx.transaction_id)).map((v) => v.tx.transaction_id);
    if (lost.length > 0) {
      for (const [id, d] of await deps.store.findLiveDecisions(lost)) {
        decided.delete(id);
        stored.set(id, d);
      }
    }
  }

  valid.forEach((v, i) => {
    const id = v.tx.transaction_id;
    const mine = decided.get(id);
    const old = stored.get(id);
    if (mine) results[chunkOf[i]!]!.decisions.push({ decision: mine, replayed: false });
    else if (old) results[chunkOf[i]!]!.decisions.push({ decision: old, replayed: true });
  });
  return results;
}

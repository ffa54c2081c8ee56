import type { KafkaMessage } from "kafkajs";
import type { ProfileCache } from "../cache/redis-profile-cache.ts";
import type { Decision } from "../domain/decision.ts";
import type { Profile } from "../domain/profile.ts";
import type { TransactionSchemaIds } from "../kafka/schema-registry.ts";
import {
  type DeadLetterReason,
  type DecodeOptions,
  decodeTransaction,
  framedSchemaId,
} from "../kafka/transaction-codec.ts";
import { evaluate, type HistoryEntry, type RuleSettings } from "../rules/rules.ts";
import type { SourcedTransaction, StoredHistoryRow, TransactionStore } from "../store/transaction-store.ts";

export type DeadLetter = { message: KafkaMessage; reason: DeadLetterReason; detail: string };

export type ChunkResult = {
  /** One per distinct transaction in the chunk, new or already stored, in topic order. */
  decisions: Array<{ decision: Decision; replayed: boolean }>;
  deadLetters: DeadLetter[];
  /** With `redecide`: each already stored transaction's live decision and the current rules' one. */
  redecided: Array<{ before: Decision; after: Decision }>;
};

/**
 * How a round is scored. The live consumer stores new transactions and republishes stored ones.
 * `redecide` (replay --redecide) also scores the stored ones with the current rules and stores
 * those decisions beside the live ones (live = false). `store: false` (--dry-run) writes nothing.
 */
export type ScoreMode = {
  store: boolean;
  redecide: boolean;
  /** Look up stored decisions before loading profiles and history (replays: mostly stored). */
  storedFirst?: boolean;
};
export const LIVE: ScoreMode = { store: true, redecide: false };

export type ChunkScorerDeps = {
  store: Pick<TransactionStore, "findLiveDecisions" | "findHistory" | "storeDecided" | "storeRedecided">;
  profiles: Pick<ProfileCache, "getMany">;
  rules: RuleSettings;
  rulesVersion: string;
  decode: DecodeOptions;
  /** Set when a Schema Registry is configured: framed values are accepted under these ids. */
  schemaIds?: Pick<TransactionSchemaIds, "isKnown" | "resolve">;
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
export async function scoreChunks(
  deps: ChunkScorerDeps,
  chunks: readonly Chunk[],
  mode: ScoreMode = LIVE,
): Promise<ChunkResult[]> {
  const now = deps.now ?? Date.now;
  const results: ChunkResult[] = chunks.map(() => ({ decisions: [], deadLetters: [], redecided: [] }));
  const seen = new Set<string>();
  const valid: SourcedTransaction[] = [];
  const chunkOf: number[] = [];
  let decode = deps.decode;
  const schemaIds = deps.schemaIds;
  if (schemaIds) {
    const ids = new Set<number>();
    for (const { messages } of chunks) {
      for (const m of messages) {
        const id = framedSchemaId(m.value);
        if (id !== undefined) ids.add(id);
      }
    }
    if (ids.size > 0) await schemaIds.resolve(ids); // a registry outage is retried, not dead-lettered
    decode = { ...decode, isKnownSchemaId: (id) => schemaIds.isKnown(id) };
  }
  chunks.forEach(({ partition, messages }, c) => {
    for (const message of messages) {
      const decoded = decodeTransaction(message, decode);
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

  const ids = valid.map((v) => v.tx.transaction_id);
  const widest = Math.max(deps.rules.spendWindowHours * 3_600_000, deps.rules.velocityWindowSeconds * 1000);
  /** Profiles and history of the users of `these`: what deciding them needs. */
  const context = (
    these: readonly SourcedTransaction[],
  ): Promise<[Map<string, Profile | null>, StoredHistoryRow[]]> => {
    if (these.length === 0) return Promise.resolve([new Map(), []]);
    const users = [...new Set(these.map((v) => v.tx.user_id))];
    let minTime = Number.POSITIVE_INFINITY;
    let maxTime = Number.NEGATIVE_INFINITY;
    for (const v of these) {
      minTime = Math.min(minTime, v.eventTimeMs);
      maxTime = Math.max(maxTime, v.eventTimeMs);
    }
    return Promise.all([
      deps.profiles.getMany(users),
      deps.store.findHistory(users, minTime - widest, maxTime),
    ]);
  };
  let stored: Map<string, Decision>;
  let profiles: Map<string, Profile | null>;
  let historyRows: readonly StoredHistoryRow[];
  if (mode.storedFirst) {
    // A replay of a processed range: mostly stored already, so ask that first and load the
    // context of the rest only.
    stored = await deps.store.findLiveDecisions(ids);
    [profiles, historyRows] = await context(valid.filter((v) => !stored.has(v.tx.transaction_id)));
  } else {
    // Live: the reads do not depend on each other, so one round trip of latency, not two.
    [stored, [profiles, historyRows]] = await Promise.all([
      deps.store.findLiveDecisions(ids),
      context(valid),
    ]);
  }
  const fresh = valid.filter((v) => !stored.has(v.tx.transaction_id));
  const toDecide = mode.redecide ? valid : fresh;

  const decided = new Map<string, Decision>();
  if (toDecide.length > 0) {
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

    for (const v of toDecide) {
      const { tx } = v;
      const history: HistoryEntry[] = [];
      // A transaction is never its own history (its stored row may sit at an earlier offset when the
      // message was sent twice).
      const counted = new Set<string>([tx.transaction_id]);
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

    if (mode.store) {
      const inserted = await deps.store.storeDecided(
        fresh.map((v) => ({ source: v, decision: decided.get(v.tx.transaction_id)! })),
      );
      // Another consumer (a zombie after a rebalance, or the live group during a replay) stored some
      // first: theirs is the decision of record.
      const lost = fresh.filter((v) => !inserted.has(v.tx.transaction_id)).map((v) => v.tx.transaction_id);
      if (lost.length > 0) {
        for (const [id, d] of await deps.store.findLiveDecisions(lost)) stored.set(id, d);
      }
      if (mode.redecide) {
        await deps.store.storeRedecided(
          valid.filter((v) => stored.has(v.tx.transaction_id)).map((v) => decided.get(v.tx.transaction_id)!),
        );
      }
    }
  }

  valid.forEach((v, i) => {
    const id = v.tx.transaction_id;
    const mine = decided.get(id);
    const old = stored.get(id);
    const result = results[chunkOf[i]!]!;
    if (old) {
      result.decisions.push({ decision: old, replayed: true });
      if (mode.redecide && mine) result.redecided.push({ before: old, after: mine });
    } else if (mine) {
      result.decisions.push({ decision: mine, replayed: false });
    }
  });
  return results;
}

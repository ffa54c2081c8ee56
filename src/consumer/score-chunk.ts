import type { KafkaMessage } from "kafkajs";
import type { ProfileCache } from "../cache/redis-profile-cache.ts";
import type { Decision } from "../domain/decision.ts";
import type { Profile } from "../domain/profile.ts";
import { payloadFingerprint, type Transaction } from "../domain/transaction.ts";
import type { DeadLetter } from "../kafka/dead-letter-codec.ts";
import type { TransactionSchemaIds } from "../kafka/schema-registry.ts";
import { type DecodeOptions, decodeTransaction, framedSchemaId } from "../kafka/transaction-codec.ts";
import type { ScoringRules } from "../rules/scoring-rules.ts";
import type {
  SourcedTransaction,
  StoredDecision,
  StoredHistoryRow,
  TransactionStore,
} from "../store/transaction-store.ts";
import { decide } from "./decide.ts";

export type { DeadLetter };

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
  /** The rule set to decide with (its version goes on every decision). */
  rules: ScoringRules;
  /** A shadow rule set: new transactions are also decided with it, stored beside (never published). */
  shadow?: ScoringRules;
  decode: DecodeOptions;
  /** Set when a Schema Registry is configured: framed values are accepted under these ids. */
  schemaIds?: Pick<TransactionSchemaIds, "isKnown" | "resolve">;
  now?: () => number;
};

/*
 * History lives in PostgreSQL, not in Redis sorted sets: the transactions table already holds every
 * transaction exactly once (primary key transaction_id) with where it was read, and it is written
 * in the same statement as the decision, so history and decisions can never disagree after a
 * crash, and a replay counts each transaction once without a second store to keep idempotent.
 * Redis holds only a cache of profiles, which may be lost at any time. One query per round reads
 * the history of every user in it (index on user_id, received_at).
 */

export type Chunk = { partition: number; messages: readonly KafkaMessage[] };

/** A valid transaction of the round, with its chunk and message. */
type Candidate = SourcedTransaction & { chunk: number; message: KafkaMessage };

function emptyResults(chunks: readonly Chunk[]): ChunkResult[] {
  return chunks.map(() => ({ decisions: [], deadLetters: [], redecided: [] }));
}

/**
 * Phase 1, decode: valid transactions in topic order, poison into the results' dead letters. A
 * transaction_id repeated with the same payload is one transaction (a client retry); repeated with
 * another payload, the later message is an `id_conflict`.
 */
async function decodeRound(deps: ChunkScorerDeps, chunks: readonly Chunk[], results: ChunkResult[]) {
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
  // The first transaction of each id: a repeat is compared with it (fingerprints only then, not per message).
  const seen = new Map<string, Transaction>();
  const valid: Candidate[] = [];
  /** Later messages repeating a transaction_id with the same payload (dead-lettered with it on a conflict). */
  const repeats: Array<{ chunk: number; message: KafkaMessage; id: string }> = [];
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

function conflict(message: KafkaMessage, id: string): DeadLetter {
  return {
    message,
    reason: "id_conflict",
    detail: `transaction_id ${id} is already used by a transaction with another user, amount, currency or merchant`,
  };
}

/** Phase 2, load context: profiles and stored history of the users of `these`. */
function loadContext(
  deps: ChunkScorerDeps,
  rules: ScoringRules,
  shadow: ScoringRules | undefined,
  these: readonly Candidate[],
): Promise<[Map<string, Profile | null>, StoredHistoryRow[]]> {
  if (these.length === 0) return Promise.resolve([new Map(), []]);
  const widest = Math.max(rules.widestWindowMs, shadow?.widestWindowMs ?? 0);
  const users = [...new Set(these.map((v) => v.tx.user_id))];
  let from = Number.POSITIVE_INFINITY;
  for (const v of these) from = Math.min(from, v.receivedMs);
  return Promise.all([deps.profiles.getMany(users), deps.store.findHistory(users, from - widest)]);
}

/**
 * Turns chunks (each from one partition, messages in offset order; usually the chunks that several
 * partitions have ready at the same moment) into stored transactions and decisions, in named
 * phases: decode → load context → decide → persist → assemble. Four round trips whatever the
 * number of chunks and messages: stored decisions, profiles and history in parallel, then one
 * insert. Returns one result per chunk, in order. Throws SentinelError on infrastructure faults;
 * the caller retries, which is safe because every write is idempotent on transaction_id.
 */
export async function scoreChunks(
  deps: ChunkScorerDeps,
  chunks: readonly Chunk[],
  mode: ScoreMode = LIVE,
): Promise<ChunkResult[]> {
  const now = deps.now ?? Date.now;
  // Read once: a rule set activated meanwhile applies from the next round on.
  const rules = deps.rules;
  const shadow = mode.redecide ? undefined : deps.shadow;
  const results = emptyResults(chunks);
  const { valid: candidates, repeats } = await decodeRound(deps, chunks, results);
  if (candidates.length === 0) return results;

  // Phase 2: what is stored already, and the context of what is not.
  const ids = candidates.map((v) => v.tx.transaction_id);
  let stored: Map<string, StoredDecision>;
  let profiles: Map<string, Profile | null>;
  let history: readonly StoredHistoryRow[];
  if (mode.storedFirst) {
    // A replay of a processed range: mostly stored already, so ask that first and load the
    // context of the rest only.
    stored = await deps.store.findLiveDecisions(ids);
    [profiles, history] = await loadContext(
      deps,
      rules,
      shadow,
      mode.redecide ? candidates : candidates.filter((v) => !stored.has(v.tx.transaction_id)),
    );
  } else {
    // Live: the reads do not depend on each other, so one round trip of latency, not two.
    [stored, [profiles, history]] = await Promise.all([
      deps.store.findLiveDecisions(ids),
      loadContext(deps, rules, shadow, candidates),
    ]);
  }
  // A stored transaction_id with another payload: the stored row and decision stay as they are.
  const conflicting = new Set<string>();
  for (const v of candidates) {
    const old = stored.get(v.tx.transaction_id);
    if (old && old.fingerprint !== payloadFingerprint(v.tx)) {
      conflicting.add(v.tx.transaction_id);
      results[v.chunk]!.deadLetters.push(conflict(v.message, v.tx.transaction_id));
    }
  }
  for (const r of repeats)
    if (conflicting.has(r.id)) results[r.chunk]!.deadLetters.push(conflict(r.message, r.id));
  const valid =
    conflicting.size > 0 ? candidates.filter((v) => !conflicting.has(v.tx.transaction_id)) : candidates;
  const fresh = valid.filter((v) => !stored.has(v.tx.transaction_id));

  // Phase 3: decide (pure).
  const toDecide = mode.redecide ? valid : fresh;
  const decided =
    toDecide.length === 0
      ? new Map<string, Decision>()
      : decide({
          transactions: toDecide,
          profiles,
          history,
          rules,
          decidedAt: new Date(now()).toISOString(),
        });

  // Phase 4: persist.
  if (mode.store && toDecide.length > 0) {
    const inserted = await deps.store.storeDecided(
      fresh.map((v) => ({ source: v, decision: decided.get(v.tx.transaction_id)! })),
    );
    // Another consumer (a zombie after a rebalance, or the live group during a replay) stored some
    // first: theirs is the decision of record.
    const lost = fresh.filter((v) => !inserted.has(v.tx.transaction_id)).map((v) => v.tx.transaction_id);
    if (lost.length > 0) {
      for (const [id, d] of await deps.store.findLiveDecisions(lost)) stored.set(id, d);
    }
    if (shadow && fresh.length > 0) {
      // The shadow decides what the live rules just decided, from the same history and profiles,
      // stored beside (live = false, under its version), never published.
      const shadowed = decide({
        transactions: fresh,
        profiles,
        history,
        rules: shadow,
        decidedAt: new Date(now()).toISOString(),
      });
      await deps.store.storeRedecided(
        fresh.filter((v) => inserted.has(v.tx.transaction_id)).map((v) => shadowed.get(v.tx.transaction_id)!),
      );
    }
    if (mode.redecide) {
      await deps.store.storeRedecided(
        valid.filter((v) => stored.has(v.tx.transaction_id)).map((v) => decided.get(v.tx.transaction_id)!),
      );
    }
  }

  // Phase 5: assemble, per chunk in topic order (letters found in different phases too).
  for (const r of results) {
    if (r.deadLetters.length > 1)
      r.deadLetters.sort((a, b) => Number(a.message.offset) - Number(b.message.offset));
  }
  for (const v of valid) {
    const id = v.tx.transaction_id;
    const mine = decided.get(id);
    const old = stored.get(id)?.decision;
    const result = results[v.chunk]!;
    if (old) {
      result.decisions.push({ decision: old, replayed: true });
      if (mode.redecide && mine) result.redecided.push({ before: old, after: mine });
    } else if (mine) {
      result.decisions.push({ decision: mine, replayed: false });
    }
  }
  return results;
}

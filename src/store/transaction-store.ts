import { sql } from "slonik";
import { z } from "zod";
import { DECISIONS, type Decision } from "../domain/decision.ts";
import type { SourcedTransaction } from "../domain/transaction.ts";
import type { StoredState } from "../rules/user-state.ts";
import type { StateRequest } from "../rules/user-state-request.ts";
import { withDbErrors } from "./db-errors.ts";
import type { DatabasePool } from "./pool.ts";
import { ISO_UTC } from "./sql-time.ts";
import { storeDecided } from "./store-decided.ts";
import { buildUserState, loadUserState } from "./user-state-store.ts";

/** A user's stored transaction, as the history rules see it (the fields aggregates may count). */
export type StoredHistoryRow = {
  transactionId: string;
  userId: string;
  amount: string;
  currency: string;
  receivedMs: number;
  partition: number;
  offset: number;
  country?: string;
  device_id?: string;
  merchant_id?: string;
  merchant_category?: string;
  channel?: string;
  ip?: string;
};

const DecisionRow = z.object({
  transaction_id: z.string(),
  user_id: z.string(),
  decision: z.enum(DECISIONS),
  score: z.number().int(),
  reasons: z.array(z.string()),
  rules_version: z.string(),
  decided_at: z.string(),
});

const StoredDecisionRow = DecisionRow.extend({ fingerprint: z.string() });

/** A stored transaction's live decision, and what identifies its payload (see `payloadFingerprint`). */
export type StoredDecision = { decision: Decision; fingerprint: string };

const HistoryRow = z.object({
  transaction_id: z.string(),
  user_id: z.string(),
  amount: z.string(),
  currency: z.string(),
  received_ms: z.number(),
  source_partition: z.number(),
  source_offset: z.number(),
  country: z.string().nullable(),
  device_id: z.string().nullable(),
  merchant_id: z.string().nullable(),
  merchant_category: z.string().nullable(),
  channel: z.string().nullable(),
  ip: z.string().nullable(),
});

const StoredTransactionRow = z.object({
  transaction_id: z.string(),
  user_id: z.string(),
  amount: z.string(),
  currency: z.string(),
  timestamp: z.string(),
  merchant_id: z.string().nullable(),
  merchant_category: z.string().nullable(),
  country: z.string().nullable(),
  channel: z.string().nullable(),
  device_id: z.string().nullable(),
  ip: z.string().nullable(),
  metadata: z.record(z.string(), z.string()).nullable(),
  stored_at: z.string(),
  decision: DecisionRow.omit({ transaction_id: true, user_id: true }).nullable(),
});
export type StoredTransaction = z.output<typeof StoredTransactionRow>;

export type TransactionStore = ReturnType<typeof createTransactionStore>;

/**
 * PostgreSQL persistence of transactions and decisions: one statement per round, idempotent on
 * transaction_id (law 2). Every method throws SentinelError (store_unavailable is retryable).
 */
export function createTransactionStore({ pool }: { pool: DatabasePool }) {
  return {
    /**
     * The live decisions already stored for these ids (a redelivery republishes them, law 5), with
     * the fingerprint of the stored payload (a different payload under the same id is a conflict).
     */
    async findLiveDecisions(ids: readonly string[]): Promise<Map<string, StoredDecision>> {
      if (ids.length === 0) return new Map();
      // The ids, sent once, read as a sub-select: planned as "a few ids", so each week's partition
      // is probed by its key whatever the statistics say (a bound array of 2,000 ids, before
      // ANALYZE, is planned as most of the table: sequential scans of every partition).
      const rows = await withDbErrors("find decisions", () =>
        pool.any(sql.prepared("sentinel_find_live_decisions", StoredDecisionRow)`
          WITH wanted AS (SELECT ${sql.array(ids, "uuid")} AS ids)
          SELECT d.transaction_id::text, t.user_id, d.decision, d.score, d.reasons, d.rules_version,
                 to_char(d.decided_at AT TIME ZONE 'UTC', ${ISO_UTC}) AS decided_at,
                 json_build_array(t.user_id, trim_scale(t.amount)::text, t.currency, t.merchant_id)::text
                   AS fingerprint
          FROM decisions d
          JOIN transactions t ON t.transaction_id = d.transaction_id AND t.received_at = d.received_at
          WHERE d.transaction_id = ANY((SELECT ids FROM wanted)::uuid[]) AND d.live
            AND t.transaction_id = ANY((SELECT ids FROM wanted)::uuid[])`),
      );
      return new Map(
        rows.map(({ fingerprint, ...decision }) => [
          decision.transaction_id,
          { decision, fingerprint: JSON.stringify(JSON.parse(fingerprint)) },
        ]),
      );
    },

    /**
     * Stored transactions of these users received after `fromMs` (no upper bound: the caller keeps
     * what came earlier in the topic): the raw material of the velocity and rolling-spend rules.
     * One query per round.
     */
    async findHistory(
      userIds: readonly string[],
      fromMs: number,
      {
        withoutState = false,
        beforeMs,
      }: {
        withoutState?: boolean;
        /** Only those received before this (the model's trainer reads a past range). */
        beforeMs?: number;
      } = {},
    ): Promise<StoredHistoryRow[]> {
      if (userIds.length === 0) return [];
      const rows = await withDbErrors("find history", () =>
        // Named per variant: a named statement's text never changes (node-postgres refuses it).
        pool.any(sql.prepared(
          `sentinel_find_history_${+withoutState}${+(beforeMs !== undefined)}`,
          HistoryRow,
        )`
          SELECT transaction_id::text, user_id, amount::text, currency,
                 (extract(epoch FROM received_at) * 1000)::int8 AS received_ms, source_partition, source_offset,
                 country, device_id, merchant_id, merchant_category, channel, host(ip) AS ip
          FROM transactions
          WHERE user_id = ANY(${sql.array(userIds, "text")})
            AND received_at > to_timestamp(${fromMs / 1000})
            ${beforeMs === undefined ? sql.fragment`` : sql.fragment`AND received_at < to_timestamp(${beforeMs / 1000})`}
            ${withoutState ? sql.fragment`AND user_id NOT IN (SELECT user_id FROM user_positions WHERE user_id = ANY(${sql.array(userIds, "text")}) AND state_ready)` : sql.fragment``}`),
      );
      return rows.map((r) => ({
        transactionId: r.transaction_id,
        userId: r.user_id,
        amount: r.amount,
        currency: r.currency,
        receivedMs: r.received_ms,
        partition: r.source_partition,
        offset: r.source_offset,
        ...(r.country === null ? {} : { country: r.country }),
        ...(r.device_id === null ? {} : { device_id: r.device_id }),
        ...(r.merchant_id === null ? {} : { merchant_id: r.merchant_id }),
        ...(r.merchant_category === null ? {} : { merchant_category: r.merchant_category }),
        ...(r.channel === null ? {} : { channel: r.channel }),
        ...(r.ip === null ? {} : { ip: r.ip }),
      }));
    },

    /** The per-user state of a round's users (src/consumer/user-state.ts). */
    loadUserState(request: StateRequest): Promise<Map<string, StoredState>> {
      return loadUserState(pool, request);
    },

    /** Builds the state of users past STATE_AFTER that have none (user-state-store.ts). */
    buildUserState(users: readonly string[]): Promise<string[]> {
      return buildUserState(pool, users);
    },

    /**
     * Stores transactions, their live decisions, their cases and their users' state in one
     * statement (src/store/store-decided.ts); returns the ids it inserted.
     */
    storeDecided(
      items: ReadonlyArray<{ source: SourcedTransaction; decision: Decision }>,
    ): Promise<Set<string>> {
      return storeDecided(pool, items);
    },

    /**
     * Stores re-decided decisions beside the live ones (live = false), tagged by their
     * rules_version; a decision already stored under that version is left as it is. Returns how
     * many were inserted.
     */
    async storeRedecided(decisions: readonly Decision[]): Promise<number> {
      if (decisions.length === 0) return 0;
      const rows = decisions.map((d) => ({
        id: d.transaction_id,
        v: d.rules_version,
        dec: d.decision,
        s: d.score,
        r: d.reasons,
        at: d.decided_at,
      }));
      const inserted = await withDbErrors("store re-decided", () =>
        pool.anyFirst(sql.type(z.object({ transaction_id: z.string() }))`
          INSERT INTO decisions (transaction_id, rules_version, live, decision, score, reasons, decided_at,
            received_at)
          SELECT id, v, false, dec, s, r, at, t.received_at
          FROM json_to_recordset(${JSON.stringify(rows)}::json)
            AS r(id uuid, v text, dec text, s int2, r text[], at timestamptz)
          JOIN transactions t ON t.transaction_id = r.id
          ON CONFLICT DO NOTHING
          RETURNING transaction_id::text`),
      );
      return inserted.length;
    },

    /** A stored transaction with its live decision, or null. */
    async getTransaction(id: string): Promise<StoredTransaction | null> {
      return withDbErrors("get transaction", () =>
        pool.maybeOne(sql.type(StoredTransactionRow)`
          SELECT t.transaction_id::text, t.user_id, t.amount::text, t.currency,
                 to_char(t.event_time AT TIME ZONE 'UTC', ${ISO_UTC}) AS timestamp,
                 t.merchant_id, t.merchant_category, t.country, t.channel, t.device_id, host(t.ip) AS ip,
                 t.metadata, to_char(t.stored_at AT TIME ZONE 'UTC', ${ISO_UTC}) AS stored_at,
                 CASE WHEN d.transaction_id IS NULL THEN NULL ELSE json_build_object(
                   'decision', d.decision, 'score', d.score, 'reasons', d.reasons,
                   'rules_version', d.rules_version,
                   'decided_at', to_char(d.decided_at AT TIME ZONE 'UTC', ${ISO_UTC})) END AS decision
          FROM transactions t LEFT JOIN decisions d ON d.transaction_id = t.transaction_id AND d.live
          WHERE t.transaction_id = ${id}::uuid`),
      );
    },
  };
}

import { sql } from "slonik";
import { z } from "zod";
import {
  CASE_QUEUES,
  CASE_STATUSES,
  type CaseQueue,
  type CaseStatus,
  LABELS,
  type Label,
} from "../domain/case.ts";
import { withDbErrors } from "../store/db-errors.ts";
import type { DatabasePool } from "../store/pool.ts";
import { ISO_UTC } from "../store/sql-time.ts";

/*
 * Reading cases (one per transaction decided `review`, opened by the transaction store) and labels
 * (every label kept; the latest per transaction wins); what analysts do to them is case-actions.ts, what the labels say of each rule lives in
 * rule-performance.ts. Every method throws SentinelError.
 */

const ts = (column: string) =>
  sql.fragment`to_char(${sql.identifier(column.split("."))} AT TIME ZONE 'UTC', ${ISO_UTC})`;

const CaseRow = z.object({
  case_id: z.string(),
  transaction_id: z.string(),
  user_id: z.string(),
  status: z.enum(CASE_STATUSES),
  assignee: z.string().nullable(),
  label: z.enum(LABELS).nullable(),
  note: z.string().nullable(),
  opened_at: z.string(),
  claimed_at: z.string().nullable(),
  resolved_at: z.string().nullable(),
  decision: z.string().nullable(),
  score: z.number().nullable(),
  reasons: z.array(z.string()).nullable(),
  amount: z.string(),
  currency: z.string(),
  device_id: z.string().nullable(),
  merchant_id: z.string().nullable(),
  model_score: z.number().nullable(),
  priority: z.number(),
  queue: z.enum(CASE_QUEUES),
  age_seconds: z.number(),
  escalated_at: z.string().nullable(),
  escalated_by: z.string().nullable(),
  escalation_reason: z.string().nullable(),
  seq: z.number(),
});
export type Case = Omit<z.output<typeof CaseRow>, "seq">;

/** A case's priority at or above which it is in the `high` queue (unless escalated). */
export const HIGH_PRIORITY = 60;

/*
 * A case as analysts see it (issue 37): its priority (0-100) is half the decision's score, three
 * tenths the model's score (×100; the decision's score without a model) and a fifth the amount's
 * size (25 per power of ten of the amount in its currency, at most 100), computed when read.
 */
const CASE_VIEW = sql.fragment`(
  SELECT c.*, d.decision, d.score, d.reasons, t.amount, t.currency, t.device_id, t.merchant_id, m.model_score,
         round(0.5 * coalesce(d.score, 0) + 0.3 * coalesce(m.model_score * 100, d.score, 0)
               + 0.2 * least(100, 25 * log(greatest(t.amount, 1))::float8))::int AS priority
  FROM cases c JOIN transactions t ON t.transaction_id = c.transaction_id
  LEFT JOIN decisions d ON d.transaction_id = c.transaction_id AND d.live
  LEFT JOIN LATERAL (SELECT substring(r FROM '^model \S+ score ([0-9.]+)')::float8 AS model_score
                     FROM unnest(d.reasons) r WHERE r LIKE 'model % score %' LIMIT 1) m ON true) v`;
const QUEUE = sql.fragment`CASE WHEN v.escalated_at IS NOT NULL AND v.status <> 'resolved' THEN 'escalated'
  WHEN v.priority >= ${HIGH_PRIORITY} THEN 'high' ELSE 'standard' END`;
const CASE_COLUMNS = sql.fragment`v.transaction_id::text AS case_id, v.transaction_id::text, v.user_id, v.status,
  v.assignee, v.label, v.note, ${ts("v.opened_at")} AS opened_at, ${ts("v.claimed_at")} AS claimed_at,
  ${ts("v.resolved_at")} AS resolved_at, v.decision, v.score, v.reasons, v.amount::text, v.currency, v.device_id,
  v.merchant_id, v.model_score, v.priority, ${QUEUE} AS queue,
  extract(epoch FROM coalesce(v.resolved_at, now()) - v.opened_at)::int AS age_seconds,
  ${ts("v.escalated_at")} AS escalated_at, v.escalated_by, v.escalation_reason, v.seq`;

export type CaseQuery = {
  status?: CaseStatus;
  userId?: string;
  queue?: CaseQueue;
  /** An analyst's name, or null for the unassigned cases. */
  assignee?: string | null;
  /** newest: by opening, cursor-paged; priority: the highest first, the oldest first among equals. */
  sort: "newest" | "priority";
  limit: number;
  cursor?: number;
};

const LinkedRow = z.object({
  case_id: z.string(),
  status: z.enum(CASE_STATUSES),
  user_id: z.string(),
  amount: z.string(),
  currency: z.string(),
  shares: z.enum(["device", "merchant"]),
});
export type LinkedCase = z.output<typeof LinkedRow>;

const HistoryItem = z.object({
  transaction_id: z.string(),
  amount: z.string(),
  currency: z.string(),
  timestamp: z.string(),
  received_at: z.string(),
  country: z.string().nullable(),
  merchant_id: z.string().nullable(),
  decision: z.string().nullable(),
  score: z.number().nullable(),
  reasons: z.array(z.string()).nullable(),
  label: z.string().nullable(),
});

export type CaseStore = ReturnType<typeof createCaseStore>;

export function createCaseStore({ pool }: { pool: DatabasePool }) {
  async function getCase(caseId: string): Promise<Case | null> {
    const row = await withDbErrors("get case", () =>
      pool.maybeOne(
        sql.type(CaseRow)`SELECT ${CASE_COLUMNS} FROM ${CASE_VIEW} WHERE v.transaction_id = ${caseId}::uuid`,
      ),
    );
    if (!row) return null;
    const { seq: _seq, ...rest } = row;
    return rest;
  }

  return {
    getCase,

    /** Cases newest first (`cursor`: the previous page's `next_cursor`), or by priority (no cursor). */
    async list(q: CaseQuery): Promise<{ cases: Case[]; nextCursor: number | null }> {
      const where = [
        q.status ? sql.fragment`v.status = ${q.status}` : null,
        q.userId ? sql.fragment`v.user_id = ${q.userId}` : null,
        q.queue ? sql.fragment`${QUEUE} = ${q.queue}` : null,
        q.assignee === null ? sql.fragment`v.assignee IS NULL` : null,
        q.assignee ? sql.fragment`v.assignee = ${q.assignee}` : null,
        q.cursor !== undefined ? sql.fragment`v.seq < ${q.cursor}` : null,
      ].filter((f) => f !== null);
      const order =
        q.sort === "priority" ? sql.fragment`v.priority DESC, v.opened_at, v.seq` : sql.fragment`v.seq DESC`;
      const rows = await withDbErrors("list cases", () =>
        pool.any(sql.type(CaseRow)`
          SELECT ${CASE_COLUMNS} FROM ${CASE_VIEW}
          WHERE ${where.length > 0 ? sql.join(where, sql.fragment` AND `) : sql.fragment`true`}
          ORDER BY ${order} LIMIT ${q.limit + 1}`),
      );
      const page = rows.slice(0, q.limit);
      return {
        cases: page.map(({ seq: _seq, ...c }) => c),
        nextCursor: q.sort === "newest" && rows.length > q.limit ? page[page.length - 1]!.seq : null,
      };
    },

    /**
     * Other cases sharing this one's device or merchant (at most 20, newest first), among the
     * latest 1,000 cases of each status: what the case view shows beside the user's timeline.
     */
    async linkedCases(c: Pick<Case, "case_id" | "device_id" | "merchant_id">): Promise<LinkedCase[]> {
      if (c.device_id === null && c.merchant_id === null) return [];
      const latest = (status: string) =>
        sql.fragment`(SELECT transaction_id, status, user_id, seq FROM cases WHERE status = ${status} ORDER BY seq DESC LIMIT 1000)`;
      return [
        ...(await withDbErrors("linked cases", () =>
          pool.any(sql.type(LinkedRow)`
            SELECT r.transaction_id::text AS case_id, r.status, r.user_id, t.amount::text, t.currency,
                   CASE WHEN t.device_id = ${c.device_id} THEN 'device' ELSE 'merchant' END AS shares
            FROM (${latest("open")} UNION ALL ${latest("claimed")} UNION ALL ${latest("resolved")}) r
            JOIN transactions t ON t.transaction_id = r.transaction_id
            WHERE r.transaction_id <> ${c.case_id}::uuid
              AND (t.device_id = ${c.device_id} OR t.merchant_id = ${c.merchant_id})
            ORDER BY r.seq DESC LIMIT 20`),
        )),
      ];
    },

    /** The user's most recent transactions with their live decisions and latest labels. */
    async userHistory(userId: string, limit = 50) {
      return withDbErrors("user history", () =>
        pool.any(sql.type(HistoryItem)`
          SELECT t.transaction_id::text, t.amount::text, t.currency, ${ts("t.event_time")} AS timestamp,
                 ${ts("t.received_at")} AS received_at, t.country, t.merchant_id, d.decision, d.score, d.reasons,
                 (SELECT l.label FROM labels l WHERE l.transaction_id = t.transaction_id
                  ORDER BY l.label_id DESC LIMIT 1) AS label
          FROM transactions t LEFT JOIN decisions d ON d.transaction_id = t.transaction_id AND d.live
          WHERE t.user_id = ${userId}
          ORDER BY t.received_at DESC, t.source_offset DESC LIMIT ${limit}`),
      );
    },

    /** The latest label of each of these transactions (those without one are absent). */
    async latestLabels(ids: readonly string[]): Promise<Map<string, Label>> {
      if (ids.length === 0) return new Map();
      const rows = await withDbErrors("latest labels", () =>
        pool.any(sql.type(z.object({ transaction_id: z.string(), label: z.enum(LABELS) }))`
          SELECT DISTINCT ON (transaction_id) transaction_id::text, label FROM labels
          WHERE transaction_id = ANY(${sql.array(ids, "uuid")})
          ORDER BY transaction_id, label_id DESC`),
      );
      return new Map(rows.map((r) => [r.transaction_id, r.label]));
    },
  };
}

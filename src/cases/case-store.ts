import { sql } from "slonik";
import { z } from "zod";
import { CASE_STATUSES, type CaseStatus, LABELS, type Label } from "../domain/case.ts";
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
  seq: z.number(),
});
export type Case = Omit<z.output<typeof CaseRow>, "seq">;

const CASE_COLUMNS = sql.fragment`c.transaction_id::text AS case_id, c.transaction_id::text, c.user_id, c.status, c.assignee, c.label,
  c.note, ${ts("c.opened_at")} AS opened_at, ${ts("c.claimed_at")} AS claimed_at,
  ${ts("c.resolved_at")} AS resolved_at, d.decision, d.score, d.reasons, t.amount::text, t.currency, c.seq`;
const CASE_FROM = sql.fragment`cases c JOIN transactions t ON t.transaction_id = c.transaction_id
  LEFT JOIN decisions d ON d.transaction_id = c.transaction_id AND d.live`;

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
        sql.type(CaseRow)`SELECT ${CASE_COLUMNS} FROM ${CASE_FROM} WHERE c.transaction_id = ${caseId}::uuid`,
      ),
    );
    if (!row) return null;
    const { seq: _seq, ...rest } = row;
    return rest;
  }

  return {
    getCase,

    /** Cases newest first; `cursor` is the `next_cursor` of the previous page. */
    async list(q: {
      status?: CaseStatus;
      userId?: string;
      limit: number;
      cursor?: number;
    }): Promise<{ cases: Case[]; nextCursor: number | null }> {
      const where = [
        q.status ? sql.fragment`c.status = ${q.status}` : sql.fragment`true`,
        q.userId ? sql.fragment`c.user_id = ${q.userId}` : sql.fragment`true`,
        q.cursor !== undefined ? sql.fragment`c.seq < ${q.cursor}` : sql.fragment`true`,
      ];
      const rows = await withDbErrors("list cases", () =>
        pool.any(sql.type(CaseRow)`
          SELECT ${CASE_COLUMNS} FROM ${CASE_FROM}
          WHERE ${sql.join(where, sql.fragment` AND `)}
          ORDER BY c.seq DESC LIMIT ${q.limit + 1}`),
      );
      const page = rows.slice(0, q.limit);
      return {
        cases: page.map(({ seq: _seq, ...c }) => c),
        nextCursor: rows.length > q.limit ? page[page.length - 1]!.seq : null,
      };
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

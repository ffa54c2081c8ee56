import { type CommonQueryMethods, type DatabaseTransactionConnection, sql } from "slonik";
import { z } from "zod";
import { withDbErrors } from "../store/db-errors.ts";
import type { DatabasePool } from "../store/pool.ts";
import { ISO_UTC } from "../store/sql-time.ts";

/*
 * The audit trail (issue 20): every change an analyst, an admin or an operator makes — claim,
 * release, resolve, block, label, profile change, rule publish/activate/rollback/shadow, list
 * change — as one row written by the store that makes the change, inside its transaction, so a
 * change and its record commit or roll back together. The table is append-only (a trigger refuses
 * UPDATE, DELETE and TRUNCATE).
 */

/** Who did it: the name and role of the API key, or of the operator at the command line. */
export type Actor = { name: string; role: string };

export type AuditEntry = { action: string; target: string; before?: unknown; after?: unknown };

const AuditRow = z.object({
  audit_id: z.number(),
  at: z.string(),
  actor: z.string(),
  role: z.string(),
  action: z.string(),
  target: z.string(),
  before: z.unknown().nullable(),
  after: z.unknown().nullable(),
});
export type AuditRecord = z.output<typeof AuditRow>;

const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));

/** Writes entries on `connection` (a transaction of the caller's). @throws SentinelError. */
export async function recordAudit(
  connection: CommonQueryMethods,
  actor: Actor,
  entries: readonly AuditEntry[],
): Promise<void> {
  if (entries.length === 0) return;
  const rows = entries.map((e) => [
    actor.name,
    actor.role,
    e.action,
    e.target,
    json(e.before),
    json(e.after),
  ]);
  await connection.query(sql.unsafe`
    INSERT INTO audit_log (actor, role, action, target, before, after)
    SELECT actor, role, action, target, before::jsonb, after::jsonb
    FROM ${sql.unnest(rows, ["text", "text", "text", "text", "text", "text"])}
      AS a(actor, role, action, target, before, after)`);
}

/**
 * Runs `act` in a PostgreSQL transaction and writes the audit entries it pushed in the same one:
 * the change and its record commit or roll back together. The one way stores audit a change.
 * @throws SentinelError (store_unavailable, or what `act` throws: nothing is written then).
 */
export function withAudit<T>(
  pool: DatabasePool,
  what: string,
  actor: Actor,
  act: (t: DatabaseTransactionConnection, audit: AuditEntry[]) => Promise<T>,
): Promise<T> {
  return withDbErrors(what, () =>
    pool.transaction(async (t) => {
      const audit: AuditEntry[] = [];
      const result = await act(t, audit);
      await recordAudit(t, actor, audit);
      return result;
    }),
  );
}

export type AuditQuery = {
  sinceMs?: number;
  untilMs?: number;
  actor?: string;
  action?: string;
  target?: string;
  limit: number;
  /** The audit_id of the last entry of the previous page. */
  cursor?: number;
};

/** Newest first, cursor-paged. @throws SentinelError(store_unavailable). */
export async function listAudit(
  pool: DatabasePool,
  q: AuditQuery,
): Promise<{ entries: AuditRecord[]; nextCursor: number | null }> {
  const where = [
    q.sinceMs !== undefined ? sql.fragment`at >= to_timestamp(${q.sinceMs / 1000})` : null,
    q.untilMs !== undefined ? sql.fragment`at < to_timestamp(${q.untilMs / 1000})` : null,
    q.actor !== undefined ? sql.fragment`actor = ${q.actor}` : null,
    q.action !== undefined ? sql.fragment`action = ${q.action}` : null,
    q.target !== undefined ? sql.fragment`target = ${q.target}` : null,
    q.cursor !== undefined ? sql.fragment`audit_id < ${q.cursor}` : null,
  ].filter((f) => f !== null);
  const rows = await withDbErrors("read audit", () =>
    pool.any(sql.type(AuditRow)`
      SELECT audit_id::int8 AS audit_id, to_char(at AT TIME ZONE 'UTC', ${ISO_UTC}) AS at,
        actor, role, action, target, before, after
      FROM audit_log
      ${where.length > 0 ? sql.fragment`WHERE ${sql.join(where, sql.fragment` AND `)}` : sql.fragment``}
      ORDER BY audit_id DESC LIMIT ${q.limit + 1}`),
  );
  const entries = rows.slice(0, q.limit);
  return { entries, nextCursor: rows.length > q.limit ? entries.at(-1)!.audit_id : null };
}

import { sql } from "slonik";
import { z } from "zod";
import { type Actor, withAudit } from "../audit/audit-store.ts";
import type { Label } from "../domain/case.ts";
import type { Profile } from "../domain/profile.ts";
import { SentinelError } from "../errors.ts";
import type { DatabasePool } from "../store/pool.ts";
import { blockUser, type CaseRefusal, CaseState, lockCase, resolveLocked } from "./case-actions.ts";
import type { LabelMessage } from "./label-outbox.ts";

/*
 * What a team runs cases with (issue 37), each one PostgreSQL transaction with its audit rows:
 * a supervisor reassigns a case to an analyst and escalates one (with a reason); an analyst
 * resolves, in one step, every unresolved case of one user or one device — a card-testing burst is
 * one decision, not forty clicks — all or nothing.
 */

/** The most cases one bulk resolution takes (more: resolve in several steps, or refine by user). */
export const MAX_BULK_CASES = 500;

export type BulkScope = { kind: "user" | "device"; id: string };
export type BulkResolution = {
  resolved: string[];
  labels: LabelMessage[];
  blocked: Profile | null;
};

export type CaseSupervision = ReturnType<typeof createCaseSupervision>;

export function createCaseSupervision({ pool }: { pool: DatabasePool }) {
  return {
    /** Gives a case to `assignee` (claimed in their name), whoever held it. */
    assign(caseId: string, assignee: string, actor: Actor): Promise<CaseRefusal | undefined> {
      return withAudit(pool, "assign case", actor, async (t, audit) => {
        const row = await lockCase(t, caseId);
        if (!row) return "not_found";
        if (row.status === "resolved") return "resolved";
        await t.query(sql.unsafe`
          UPDATE cases SET status = 'claimed', assignee = ${assignee}, claimed_at = now()
          WHERE transaction_id = ${caseId}::uuid`);
        audit.push({
          action: "case.assign",
          target: caseId,
          before: { status: row.status, assignee: row.assignee },
          after: { status: "claimed", assignee },
        });
        return undefined;
      });
    },

    /** Puts an unresolved case in the `escalated` queue, saying why. */
    escalate(caseId: string, reason: string, actor: Actor): Promise<CaseRefusal | undefined> {
      return withAudit(pool, "escalate case", actor, async (t, audit) => {
        const row = await lockCase(t, caseId);
        if (!row) return "not_found";
        if (row.status === "resolved") return "resolved";
        await t.query(sql.unsafe`
          UPDATE cases SET escalated_at = now(), escalated_by = ${actor.name}, escalation_reason = ${reason}
          WHERE transaction_id = ${caseId}::uuid`);
        audit.push({ action: "case.escalate", target: caseId, after: { reason } });
        return undefined;
      });
    },

    /**
     * Resolves every unresolved case of one user or one device with one label, in one
     * transaction: refused whole (nothing changes) when one is claimed by another analyst, when
     * there are none or more than MAX_BULK_CASES, or when the block cannot be made.
     * @throws SentinelError case_claimed, not_found, validation_failed, no_profile.
     */
    resolveBulk(
      scope: BulkScope,
      r: { label: Label; note?: string; blockUser: boolean },
      actor: Actor,
    ): Promise<BulkResolution> {
      return withAudit(pool, "resolve cases in bulk", actor, async (t, audit) => {
        const match =
          scope.kind === "user"
            ? sql.fragment`c.user_id = ${scope.id}`
            : sql.fragment`c.transaction_id IN (SELECT o.transaction_id FROM cases o
                JOIN transactions x ON x.transaction_id = o.transaction_id
                WHERE o.status <> 'resolved' AND x.device_id = ${scope.id})`;
        const rows = await t.any(sql.type(CaseState.extend({ case_id: z.string() }))`
          SELECT c.transaction_id::text AS case_id, c.status, c.assignee, c.user_id FROM cases c
          WHERE c.status <> 'resolved' AND ${match}
          ORDER BY c.transaction_id LIMIT ${MAX_BULK_CASES + 1} FOR UPDATE`);
        if (rows.length === 0)
          throw new SentinelError("not_found", `no unresolved case for ${scope.kind} ${scope.id}`);
        if (rows.length > MAX_BULK_CASES)
          throw new SentinelError(
            "validation_failed",
            `more than ${MAX_BULK_CASES} cases: resolve them in parts`,
          );
        const held = rows.filter((c) => c.status === "claimed" && c.assignee !== actor.name);
        if (held.length > 0)
          throw new SentinelError(
            "case_claimed",
            `${held.length} of these cases are claimed by another analyst`,
            {
              details: { claimed: held.map((c) => ({ case_id: c.case_id, assignee: c.assignee })) },
            },
          );
        const users = new Set(rows.map((c) => c.user_id));
        if (r.blockUser && users.size !== 1)
          throw new SentinelError("validation_failed", "block_user needs the cases of one user");
        const labels: LabelMessage[] = [];
        for (const c of rows) labels.push(await resolveLocked(t, c.case_id, c, r, actor, audit));
        const blocked = r.blockUser ? await blockUser(t, rows[0]!.user_id) : null;
        if (blocked)
          audit.push({
            action: "profile.block",
            target: rows[0]!.user_id,
            before: { status: blocked.before },
            after: { status: "blocked" },
          });
        audit.push({
          action: "case.bulk_resolve",
          target: `${scope.kind}:${scope.id}`,
          after: { label: r.label, cases: rows.map((c) => c.case_id) },
        });
        return { resolved: rows.map((c) => c.case_id), labels, blocked: blocked?.profile ?? null };
      });
    },
  };
}

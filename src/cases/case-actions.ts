import { type CommonQueryMethods, type DatabaseTransactionConnection, sql } from "slonik";
import { z } from "zod";
import { type Actor, type AuditEntry, withAudit } from "../audit/audit-store.ts";
import type { Label, LabelSource } from "../domain/case.ts";
import { type Profile, ProfileSchema } from "../domain/profile.ts";
import { SentinelError } from "../errors.ts";
import type { DatabasePool } from "../store/pool.ts";
import { PROFILE_COLUMNS } from "../store/profile-store.ts";
import { ISO_UTC } from "../store/sql-time.ts";
import { recordEvent } from "../webhooks/event-outbox.ts";
import type { LabelMessage } from "./label-outbox.ts";

/*
 * What analysts do to cases, each action one PostgreSQL transaction with its audit rows (issue 20):
 * the claim check, the label, the resolution and the block commit together or not at all — a
 * refused resolve (409) changes nothing. Identity comes from the API key (the actor), never from
 * the body; a release or a resolve needs a claim by the same analyst. A label goes into the label
 * outbox in the same transaction, so it is published even if the broker is away now.
 */

export type CaseRefusal = "not_found" | "claimed_by_other" | "resolved" | "not_claimed";
type Row = { status: string; assignee: string | null };

export const CaseState = z.object({
  status: z.string(),
  assignee: z.string().nullable(),
  user_id: z.string(),
});
const StoredLabel = z.object({
  label_id: z.number(),
  transaction_id: z.string(),
  user_id: z.string(),
  created_at: z.string(),
});

/** The case, locked for this transaction; null when unknown. */
export function lockCase(t: CommonQueryMethods, caseId: string) {
  return t.maybeOne(sql.type(CaseState)`
    SELECT status, assignee, user_id FROM cases WHERE transaction_id = ${caseId}::uuid FOR UPDATE`);
}

/** Why `name` may not release or resolve a case in state `row` (undefined: it may). */
function notHolder(row: Row | null, name: string): CaseRefusal | undefined {
  if (!row) return "not_found";
  if (row.status === "resolved") return "resolved";
  if (row.status !== "claimed") return "not_claimed";
  return row.assignee === name ? undefined : "claimed_by_other";
}

/** Stores a label with its outbox row; the label as published on transactions.labels. */
async function insertLabel(
  t: DatabaseTransactionConnection,
  transactionId: string,
  l: { label: Label; source: LabelSource; note?: string },
): Promise<(z.output<typeof StoredLabel> & { message: LabelMessage }) | null> {
  const row = await t.maybeOne(sql.type(StoredLabel)`
    INSERT INTO labels (transaction_id, label, source, note)
    SELECT transaction_id, ${l.label}, ${l.source}, ${l.note ?? null}
    FROM transactions WHERE transaction_id = ${transactionId}::uuid
    RETURNING label_id, transaction_id::text,
      (SELECT user_id FROM transactions WHERE transaction_id = ${transactionId}::uuid) AS user_id,
      to_char(created_at AT TIME ZONE 'UTC', ${ISO_UTC}) AS created_at`);
  if (!row) return null;
  await t.query(sql.unsafe`INSERT INTO label_outbox (label_id) VALUES (${row.label_id})`);
  const message: LabelMessage = {
    label_id: row.label_id,
    transaction_id: row.transaction_id,
    user_id: row.user_id,
    label: l.label,
    source: l.source,
    ...(l.note ? { note: l.note } : {}),
    labelled_at: row.created_at,
  };
  return { ...row, message };
}

/**
 * Resolves a case locked in this transaction: its status and label, the analyst label (with its
 * outbox row), the `case.resolved` event and their audit entries. The label as published.
 */
export async function resolveLocked(
  t: DatabaseTransactionConnection,
  caseId: string,
  row: z.output<typeof CaseState>,
  r: { label: Label; note?: string; blockUser: boolean },
  actor: Actor,
  audit: AuditEntry[],
): Promise<LabelMessage> {
  await t.query(sql.unsafe`
    UPDATE cases SET status = 'resolved', label = ${r.label}, note = ${r.note ?? null}, resolved_at = now()
    WHERE transaction_id = ${caseId}::uuid`);
  const label = (await insertLabel(t, caseId, { label: r.label, source: "analyst", note: r.note }))!;
  audit.push(
    {
      action: "case.resolve",
      target: caseId,
      before: { status: row.status, assignee: row.assignee },
      after: { status: "resolved", label: r.label, note: r.note ?? null },
    },
    { action: "label.create", target: caseId, after: label.message },
  );
  await recordEvent(t, "case.resolved", caseId, {
    case_id: caseId,
    transaction_id: caseId,
    user_id: row.user_id,
    status: "resolved",
    label: r.label,
    resolved_by: actor.name,
    block_user: r.blockUser,
    label_id: label.message.label_id,
  });
  return label.message;
}

/** Blocks a user inside the transaction. @throws SentinelError(no_profile) (the whole action rolls back). */
export async function blockUser(
  t: CommonQueryMethods,
  userId: string,
): Promise<{ before: string; profile: Profile }> {
  const before = await t.maybeOneFirst(sql.type(z.object({ status: z.string() }))`
    SELECT status FROM user_profiles WHERE user_id = ${userId} FOR UPDATE`);
  if (before === null) {
    throw new SentinelError(
      "no_profile",
      `user ${userId} has no profile to block; create one with PUT /users/:id/profile`,
    );
  }
  const profile = await t.one(sql.type(ProfileSchema)`
    UPDATE user_profiles SET status = 'blocked', version = version + 1, updated_at = now()
    WHERE user_id = ${userId} RETURNING ${PROFILE_COLUMNS}`);
  return { before, profile };
}

export type Resolution = { blocked: Profile | null; label: LabelMessage };

export type CaseActions = ReturnType<typeof createCaseActions>;

export function createCaseActions({ pool }: { pool: DatabasePool }) {
  return {
    /** Claims an open case (or one this analyst holds already: nothing changes). */
    claim(caseId: string, actor: Actor): Promise<CaseRefusal | undefined> {
      return withAudit(pool, "claim case", actor, async (t, audit) => {
        const row = await lockCase(t, caseId);
        if (!row) return "not_found";
        if (row.status === "resolved") return "resolved";
        if (row.status === "claimed") return row.assignee === actor.name ? undefined : "claimed_by_other";
        await t.query(sql.unsafe`
          UPDATE cases SET status = 'claimed', assignee = ${actor.name}, claimed_at = now()
          WHERE transaction_id = ${caseId}::uuid`);
        audit.push({
          action: "case.claim",
          target: caseId,
          before: row,
          after: { status: "claimed", assignee: actor.name },
        });
        return undefined;
      });
    },

    /** Gives a case this analyst claimed back to the queue. */
    release(caseId: string, actor: Actor): Promise<CaseRefusal | undefined> {
      return withAudit(pool, "release case", actor, async (t, audit) => {
        const row = await lockCase(t, caseId);
        const refused = notHolder(row, actor.name);
        if (refused) return refused;
        await t.query(sql.unsafe`
          UPDATE cases SET status = 'open', assignee = NULL, claimed_at = NULL WHERE transaction_id = ${caseId}::uuid`);
        audit.push({
          action: "case.release",
          target: caseId,
          before: row,
          after: { status: "open", assignee: null },
        });
        return undefined;
      });
    },

    /**
     * Resolves a case this analyst claimed: the label (an analyst label of its transaction), the
     * resolution and, when asked, the user's block, in one transaction.
     * @throws SentinelError(no_profile) when asked to block a user without a profile (nothing changes).
     */
    resolve(
      caseId: string,
      r: { label: Label; note?: string; blockUser: boolean },
      actor: Actor,
    ): Promise<CaseRefusal | Resolution> {
      return withAudit(pool, "resolve case", actor, async (t, audit) => {
        const row = await lockCase(t, caseId);
        const refused = notHolder(row, actor.name);
        if (refused || !row) return refused ?? "not_found";
        const label = await resolveLocked(t, caseId, row, r, actor, audit);
        let blocked: Profile | null = null;
        if (r.blockUser) {
          const block = await blockUser(t, row.user_id);
          blocked = block.profile;
          audit.push({
            action: "profile.block",
            target: row.user_id,
            before: { status: block.before },
            after: { status: "blocked" },
          });
        }
        return { blocked, label };
      });
    },

    /** Labels a stored transaction; null when it is unknown. */
    label(
      transactionId: string,
      l: { label: Label; source: LabelSource; note?: string },
      actor: Actor,
    ): Promise<(z.output<typeof StoredLabel> & { message: LabelMessage }) | null> {
      return withAudit(pool, "label transaction", actor, async (t, audit) => {
        const stored = await insertLabel(t, transactionId, l);
        if (stored) audit.push({ action: "label.create", target: transactionId, after: stored.message });
        return stored;
      });
    },
  };
}

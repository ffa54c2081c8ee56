import { type DatabaseTransactionConnection, sql } from "slonik";
import { z } from "zod";
import { type Actor, recordAudit } from "../audit/audit-store.ts";
import { SentinelError } from "../errors.ts";
import { withDbErrors } from "../store/db-errors.ts";
import type { DatabasePool } from "../store/pool.ts";
import { isoUtc } from "../store/sql-time.ts";
import {
  CHANGE_KINDS,
  type ChangeKind,
  type ChangeStores,
  type Kind,
  type PayloadOf,
} from "./change-kinds.ts";

/*
 * Four eyes (issue 37, migration 019). `submit` is the one way a change that alters decisions is
 * made, from HTTP and from the command line alike: applied at once when approvals are off, a
 * proposal when on. `approve` applies a proposal in its own transaction — locked, still pending,
 * not expired, approved by another name than the proposer's, its base unmoved — and audits who
 * proposed and who approved; `reject` closes it with a reason. Every method throws SentinelError.
 */

export const CHANGE_STATUSES = ["pending", "approved", "rejected", "expired"] as const;
export type ChangeStatus = (typeof CHANGE_STATUSES)[number];

const ChangeRow = z.object({
  change_id: z.string(),
  kind: z.string(),
  target: z.string(),
  payload: z.unknown(),
  base: z.string().nullable(),
  status: z.enum(CHANGE_STATUSES),
  proposed_by: z.string(),
  proposed_role: z.string(),
  proposed_at: z.string(),
  expires_at: z.string(),
  decided_by: z.string().nullable(),
  decided_at: z.string().nullable(),
  reason: z.string().nullable(),
  result: z.unknown().nullable(),
});
export type Change = z.output<typeof ChangeRow>;

const COLUMNS = sql.fragment`change_id::text, kind, target, payload, base,
  CASE WHEN status = 'pending' AND expires_at <= now() THEN 'expired' ELSE status END AS status,
  proposed_by, proposed_role, ${isoUtc("proposed_at")} AS proposed_at, ${isoUtc("expires_at")} AS expires_at,
  decided_by, ${isoUtc("decided_at")} AS decided_at, reason, result`;

/** What a submission did: applied now (the change's own answer) or proposed (the pending change). */
export type Submitted = { applied: Record<string, unknown> } | { proposed: Change };

export type ChangeStoreOptions = {
  pool: DatabasePool;
  /** The stores a change is applied with, on the pool or on an approval's transaction. */
  storesOn(db: DatabasePool): ChangeStores;
  approvalsRequired: boolean;
  expireMs: number;
};

/** What an approval answers with, and keeps: the change's result without a secret shown once. */
const withoutSecret = ({ secret: _s, ...rest }: Record<string, unknown>) => rest;

/** A stored change's kind. @throws SentinelError(internal) on a kind this version does not know. */
const kindOf = (name: string): Kind<unknown> => {
  const kind = CHANGE_KINDS[name as ChangeKind] as Kind<unknown> | undefined;
  if (!kind) throw new SentinelError("internal", `unknown change kind ${name}`);
  return kind;
};

/** The change, locked for this transaction. @throws not_found, change_not_pending. */
async function lockPending(t: DatabaseTransactionConnection, id: string): Promise<Change> {
  const row = await t.maybeOne(sql.type(ChangeRow)`
    SELECT ${COLUMNS} FROM changes WHERE change_id = ${id}::uuid FOR UPDATE`);
  if (!row) throw new SentinelError("not_found", "no change with this id");
  if (row.status !== "pending")
    throw new SentinelError(
      "change_not_pending",
      `this change is ${row.status}: it can no longer be decided`,
      {
        details: { status: row.status },
      },
    );
  return row;
}

/** Records the decision on a change (status, who, when, why, what it did). */
async function close(
  t: DatabaseTransactionConnection,
  id: string,
  status: "approved" | "rejected",
  checker: Actor,
  extra: { reason?: string; result?: unknown },
): Promise<Change> {
  return t.one(sql.type(ChangeRow)`
    UPDATE changes SET status = ${status}, decided_by = ${checker.name}, decided_role = ${checker.role},
           decided_at = now(), reason = ${extra.reason ?? null},
           result = ${extra.result === undefined ? null : JSON.stringify(extra.result)}::jsonb
    WHERE change_id = ${id}::uuid RETURNING ${COLUMNS}`);
}

/** Records `payload` as a pending proposal of `maker`, audited in the same transaction. */
function propose(
  pool: DatabasePool,
  p: {
    name: ChangeKind;
    payload: unknown;
    base: string | null;
    target: string;
    maker: Actor;
    expireMs: number;
  },
): Promise<Change> {
  return withDbErrors("propose a change", () =>
    pool.transaction(async (t) => {
      const row = await t.one(sql.type(ChangeRow)`
        INSERT INTO changes (kind, target, payload, base, proposed_by, proposed_role, expires_at)
        VALUES (${p.name}, ${p.target}, ${JSON.stringify(p.payload)}::jsonb, ${p.base}, ${p.maker.name},
                ${p.maker.role}, now() + make_interval(secs => ${p.expireMs / 1000}))
        RETURNING ${COLUMNS}`);
      await recordAudit(t, p.maker, [
        {
          action: "change.propose",
          target: row.change_id,
          after: { kind: p.name, target: p.target, payload: p.payload },
        },
      ]);
      return row;
    }),
  );
}

export type ChangeStore = ReturnType<typeof createChangeStore>;

export function createChangeStore({ pool, storesOn, approvalsRequired, expireMs }: ChangeStoreOptions) {
  const direct = storesOn(pool);
  // An approval applies the change with stores on its transaction: it has every method they use
  // (queries, and `transaction`, which nests as a savepoint), so change and approval commit together.
  const on = (t: DatabaseTransactionConnection) => storesOn(t as unknown as DatabasePool);
  return {
    approvalsRequired,

    /** Applies the change now (approvals off) or records it as a pending proposal (on). */
    async submit<K extends ChangeKind>(name: K, payload: PayloadOf<K>, maker: Actor): Promise<Submitted> {
      const kind = kindOf(name);
      if (!approvalsRequired) return { applied: await kind.apply(direct, payload, maker) };
      const base = await kind.base(direct, payload);
      return {
        proposed: await propose(pool, { name, payload, base, target: kind.target(payload), maker, expireMs }),
      };
    },

    async list(status?: ChangeStatus): Promise<Change[]> {
      const rows = await withDbErrors("list changes", () =>
        pool.any(sql.type(ChangeRow)`
          SELECT * FROM (SELECT ${COLUMNS} FROM changes ORDER BY proposed_at DESC LIMIT 1000) c
          ${status === undefined ? sql.fragment`` : sql.fragment`WHERE status = ${status}`}`),
      );
      return [...rows];
    },

    /** One change and what it would do now (a diff for a rule set), or null when unknown. */
    async get(id: string): Promise<(Change & { preview: unknown }) | null> {
      const row = await withDbErrors("read a change", () =>
        pool.maybeOne(sql.type(ChangeRow)`SELECT ${COLUMNS} FROM changes WHERE change_id = ${id}::uuid`),
      );
      if (!row) return null;
      const kind = kindOf(row.kind);
      return { ...row, preview: (await kind.preview?.(direct, row.payload)) ?? null };
    },

    /**
     * Applies a pending proposal in this transaction, as its proposer, and closes it as approved by
     * `checker`. @throws SentinelError forbidden (the proposer approving), change_not_pending
     * (decided or expired), change_stale (its base moved), or what the change itself throws.
     */
    async approve(id: string, checker: Actor, allowed: (kind: string) => boolean = () => true) {
      return withDbErrors("approve a change", () =>
        pool.transaction(async (t) => {
          const change = await lockPending(t, id);
          if (!allowed(change.kind))
            throw new SentinelError(
              "forbidden",
              `a ${checker.role} key cannot approve a ${change.kind} change`,
            );
          if (change.proposed_by === checker.name)
            throw new SentinelError("forbidden", "four eyes: the proposer cannot approve their own change");
          const kind = kindOf(change.kind);
          const stores = on(t);
          const base = await kind.base(stores, change.payload);
          if (base !== change.base)
            throw new SentinelError(
              "change_stale",
              "what this change was proposed against has changed since: propose it again",
              {
                details: { proposed_against: change.base, now: base },
              },
            );
          const maker = { name: change.proposed_by, role: change.proposed_role };
          const result = await kind.apply(stores, change.payload, maker);
          const closed = await close(t, id, "approved", checker, { result: withoutSecret(result) });
          await recordAudit(t, checker, [
            {
              action: "change.approve",
              target: id,
              before: { kind: change.kind, target: change.target, proposed_by: maker.name },
              after: { approved_by: checker.name },
            },
          ]);
          return { ...closed, result };
        }),
      );
    },

    /** Closes a pending proposal unapplied, saying why (its proposer may withdraw it). */
    async reject(
      id: string,
      reason: string,
      checker: Actor,
      allowed: (kind: string) => boolean = () => true,
    ) {
      return withDbErrors("reject a change", () =>
        pool.transaction(async (t) => {
          const change = await lockPending(t, id);
          if (!allowed(change.kind) && change.proposed_by !== checker.name)
            throw new SentinelError(
              "forbidden",
              `a ${checker.role} key cannot reject a ${change.kind} change`,
            );
          const closed = await close(t, id, "rejected", checker, { reason });
          await recordAudit(t, checker, [
            {
              action: "change.reject",
              target: id,
              before: { kind: change.kind, proposed_by: change.proposed_by },
              after: { reason },
            },
          ]);
          return closed;
        }),
      );
    },
  };
}

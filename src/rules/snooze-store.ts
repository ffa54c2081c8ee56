import { sql } from "slonik";
import { z } from "zod";
import { type Actor, withAudit } from "../audit/audit-store.ts";
import { SentinelError } from "../errors.ts";
import { withDbErrors } from "../store/db-errors.ts";
import type { DatabasePool } from "../store/pool.ts";
import { isoUtc } from "../store/sql-time.ts";
import type { ActiveSnooze, SnoozeMap } from "./evaluator.ts";

/*
 * Per-entity snoozes (issue 37, migration 018): one rule silenced for one user, device or merchant
 * until a time. Changes bump the lists' change counter, so consumers load them with the lists
 * (active-rules.ts) and honour them with no query per transaction (evaluator.ts).
 */

export const ENTITY_KINDS = ["user", "device", "merchant"] as const;
export type EntityKind = (typeof ENTITY_KINDS)[number];
/** Active snoozes one entity may hold at once. */
export const MAX_SNOOZES_PER_ENTITY = 20;

export type Snooze = {
  snooze_id: string;
  rule: string;
  entity_kind: EntityKind;
  entity_id: string;
  created_at: string;
  until: string;
  reason: string;
  created_by: string;
  removed_at: string | null;
  removed_by: string | null;
  remove_reason: string | null;
};

const SnoozeRow = z.object({
  snooze_id: z.string(),
  rule: z.string(),
  entity_kind: z.enum(ENTITY_KINDS),
  entity_id: z.string(),
  created_at: z.string(),
  until: z.string(),
  reason: z.string(),
  created_by: z.string(),
  removed_at: z.string().nullable(),
  removed_by: z.string().nullable(),
  remove_reason: z.string().nullable(),
});
const COLUMNS = sql.fragment`snooze_id::text, rule, entity_kind, entity_id, ${isoUtc("created_at")} AS created_at,
  ${isoUtc("until")} AS until, reason, created_by, ${isoUtc("removed_at")} AS removed_at, removed_by, remove_reason`;

const bump = sql.unsafe`UPDATE rule_lists_version SET version = version + 1`;

export function createSnoozeStore({ pool }: { pool: DatabasePool }) {
  return {
    /**
     * Snoozes `rule` for one entity until `until`. Audited.
     * @throws SentinelError(validation_failed) past MAX_SNOOZES_PER_ENTITY active ones.
     */
    async snooze(
      input: { rule: string; kind: EntityKind; id: string; until: string; reason: string },
      actor: Actor,
    ): Promise<Snooze> {
      return withAudit(pool, "snooze", actor, async (t, audit) => {
        const active = await t.oneFirst(sql.type(z.object({ n: z.number() }))`
          SELECT count(*)::int AS n FROM snoozes
          WHERE entity_kind = ${input.kind} AND entity_id = ${input.id} AND removed_at IS NULL AND until > now()`);
        if (active >= MAX_SNOOZES_PER_ENTITY)
          throw new SentinelError(
            "validation_failed",
            `${input.kind} ${input.id} holds ${active} active snoozes already (at most ${MAX_SNOOZES_PER_ENTITY})`,
          );
        const row = await t.one(sql.type(SnoozeRow)`
          INSERT INTO snoozes (rule, entity_kind, entity_id, until, reason, created_by)
          VALUES (${input.rule}, ${input.kind}, ${input.id}, ${input.until}::timestamptz, ${input.reason}, ${actor.name})
          RETURNING ${COLUMNS}`);
        await t.query(bump);
        audit.push({ action: "snooze.create", target: `${input.kind}:${input.id}`, after: row });
        return row;
      });
    },

    /** Ends a snooze now, saying why; the row stays (who, when, why). Audited. Undefined: no such active snooze. */
    async unsnooze(id: string, reason: string, actor: Actor): Promise<Snooze | undefined> {
      return withAudit(pool, "unsnooze", actor, async (t, audit) => {
        const row = await t.maybeOne(sql.type(SnoozeRow)`
          UPDATE snoozes SET removed_at = now(), removed_by = ${actor.name}, remove_reason = ${reason}
          WHERE snooze_id = ${id}::uuid AND removed_at IS NULL
          RETURNING ${COLUMNS}`);
        if (!row) return undefined;
        await t.query(bump);
        audit.push({ action: "snooze.remove", target: `${row.entity_kind}:${row.entity_id}`, before: row });
        return row;
      });
    },

    /** Whether a snooze is active (not removed, not ended). */
    async snoozeActive(id: string): Promise<boolean> {
      const found = await withDbErrors("read a snooze", () =>
        pool.maybeOneFirst(sql.type(z.object({ one: z.number() }))`
          SELECT 1 AS one FROM snoozes WHERE snooze_id = ${id}::uuid AND removed_at IS NULL AND until > now()`),
      );
      return found !== null;
    },

    /** Snoozes, newest first: the active ones, or all (removed and ended included). */
    async snoozes({ all = false }: { all?: boolean } = {}): Promise<Snooze[]> {
      const rows = await withDbErrors("read snoozes", () =>
        pool.any(sql.type(SnoozeRow)`
          SELECT ${COLUMNS} FROM snoozes
          ${all ? sql.fragment`` : sql.fragment`WHERE removed_at IS NULL AND until > now()`}
          ORDER BY created_at DESC LIMIT 1000`),
      );
      return [...rows];
    },

    /** What the scorer needs: the snoozes not removed and not ended (by a day's slack for late transactions). */
    async activeSnoozes(): Promise<SnoozeMap> {
      const rows = await withDbErrors("read active snoozes", () =>
        pool.any(sql.type(
          z.object({
            key: z.string(),
            rule: z.string(),
            from_ms: z.number(),
            until_ms: z.number(),
            by: z.string(),
          }),
        )`
          SELECT entity_kind || ':' || entity_id AS key, rule, (extract(epoch FROM created_at) * 1000)::float8 AS from_ms,
                 (extract(epoch FROM until) * 1000)::float8 AS until_ms, created_by AS by
          FROM snoozes WHERE removed_at IS NULL AND until > now() - interval '1 day'`),
      );
      const map = new Map<string, ActiveSnooze[]>();
      for (const r of rows) {
        const list = map.get(r.key) ?? [];
        list.push({ rule: r.rule, fromMs: r.from_ms, untilMs: r.until_ms, by: r.by });
        map.set(r.key, list);
      }
      return map;
    },
  };
}

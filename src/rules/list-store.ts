import { sql } from "slonik";
import { z } from "zod";
import { type Actor, withAudit } from "../audit/audit-store.ts";
import { withDbErrors } from "../store/db-errors.ts";
import type { DatabasePool } from "../store/pool.ts";
import { isoUtc } from "../store/sql-time.ts";

/*
 * Named lists the rules refer to (`in_list`): blocked devices, merchants, countries. Every change
 * bumps a counter that consumers poll, so a change reaches scoring within seconds. An entry may
 * expire (it stops matching for transactions received from then on), says why it is there and who
 * added it, and every change is kept in the list's history (issue 37). Every method throws
 * SentinelError.
 */

/** One entry to add: until when it matches (undefined: for ever), and why. */
export type ListEntryInput = { value: string; expiresAt?: string | undefined; reason?: string | undefined };

export type ListEntry = {
  value: string;
  expires_at: string | null;
  expired: boolean;
  reason: string | null;
  added_by: string | null;
  added_at: string;
};

export type ListHistoryRow = {
  value: string;
  action: "add" | "remove";
  expires_at: string | null;
  reason: string | null;
  actor: string;
  at: string;
};

const EntryRow = z.object({
  value: z.string(),
  expires_at: z.string().nullable(),
  expired: z.boolean(),
  reason: z.string().nullable(),
  added_by: z.string().nullable(),
  added_at: z.string(),
});
const HistoryRow = z.object({
  value: z.string(),
  action: z.enum(["add", "remove"]),
  expires_at: z.string().nullable(),
  reason: z.string().nullable(),
  actor: z.string(),
  at: z.string(),
});

/** Matches for ever: what an entry without expires_at is, in the scorer's map. */
export const NEVER_EXPIRES = Number.POSITIVE_INFINITY;

export function createListStore({ pool }: { pool: DatabasePool }) {
  return {
    /**
     * Adds entries; one already there takes the new expiry and reason (a renewal). How many were
     * added or renewed. Audited, and kept in the list's history.
     */
    async addToList(name: string, entries: readonly ListEntryInput[], actor: Actor): Promise<number> {
      return withAudit(pool, "add to list", actor, async (t, audit) => {
        const rows = JSON.stringify(
          entries.map((e) => ({ v: e.value, x: e.expiresAt ?? null, r: e.reason ?? null })),
        );
        const added = await t.anyFirst(sql.type(z.object({ value: z.string() }))`
          WITH input AS (
            SELECT DISTINCT ON (v) v, x, r FROM json_to_recordset(${rows}::json) AS i(v text, x timestamptz, r text)
          ), upserted AS (
            INSERT INTO rule_lists (name, value, expires_at, reason, added_by)
            SELECT ${name}, v, x, r, ${actor.name} FROM input
            ON CONFLICT (name, value) DO UPDATE SET expires_at = excluded.expires_at, reason = excluded.reason,
              added_by = excluded.added_by, added_at = now()
            RETURNING value, expires_at, reason
          ), logged AS (
            INSERT INTO rule_list_history (name, value, action, expires_at, reason, actor)
            SELECT ${name}, value, 'add', expires_at, reason, ${actor.name} FROM upserted
          )
          SELECT value FROM upserted`);
        await t.query(sql.unsafe`UPDATE rule_lists_version SET version = version + 1`);
        if (added.length > 0)
          audit.push({
            action: "list.add",
            target: name,
            after: entries.filter((e) => added.includes(e.value)),
          });
        return added.length;
      });
    },

    /** Removes values, saying why; how many were there. Audited, and kept in the list's history. */
    async removeFromList(
      name: string,
      values: readonly string[],
      reason: string,
      actor: Actor,
    ): Promise<number> {
      return withAudit(pool, "remove from list", actor, async (t, audit) => {
        const removed = await t.anyFirst(sql.type(z.object({ value: z.string() }))`
          WITH gone AS (
            DELETE FROM rule_lists WHERE name = ${name} AND value = ANY(${sql.array(values, "text")})
            RETURNING value, expires_at
          ), logged AS (
            INSERT INTO rule_list_history (name, value, action, expires_at, reason, actor)
            SELECT ${name}, value, 'remove', expires_at, ${reason}, ${actor.name} FROM gone
          )
          SELECT value FROM gone`);
        await t.query(sql.unsafe`UPDATE rule_lists_version SET version = version + 1`);
        if (removed.length > 0)
          audit.push({ action: "list.remove", target: name, before: removed, after: { reason } });
        return removed.length;
      });
    },

    /** A list's entries, expired ones included (marked). */
    async listEntries(name: string): Promise<ListEntry[]> {
      const rows = await withDbErrors("read list", () =>
        pool.any(sql.type(EntryRow)`
          SELECT value, ${isoUtc("expires_at")} AS expires_at,
                 coalesce(expires_at <= now(), false) AS expired, reason, added_by,
                 ${isoUtc("added_at")} AS added_at
          FROM rule_lists WHERE name = ${name} ORDER BY value`),
      );
      return [...rows];
    },

    /** A list's additions and removals, newest first. */
    async listHistory(name: string, limit = 500): Promise<ListHistoryRow[]> {
      const rows = await withDbErrors("read list history", () =>
        pool.any(sql.type(HistoryRow)`
          SELECT value, action, ${isoUtc("expires_at")} AS expires_at, reason, actor,
                 ${isoUtc("at")} AS at
          FROM rule_list_history WHERE name = ${name} ORDER BY id DESC LIMIT ${limit}`),
      );
      return [...rows];
    },

    /** The names of the lists that exist (hold at least one entry). */
    async listNames(): Promise<Set<string>> {
      const rows = await withDbErrors("list names", () =>
        pool.anyFirst(sql.type(z.object({ name: z.string() }))`SELECT DISTINCT name FROM rule_lists`),
      );
      return new Set(rows);
    },

    /**
     * Every list, for scoring: each value with the time it stops matching (ms; NEVER_EXPIRES). The
     * scorer compares it with each transaction's own time, so an entry expires exactly then.
     */
    async allLists(): Promise<Map<string, Map<string, number>>> {
      const rows = await withDbErrors("read lists", () =>
        pool.any(
          sql.type(z.object({ name: z.string(), value: z.string(), expires_ms: z.number().nullable() }))`
            SELECT name, value, (extract(epoch FROM expires_at) * 1000)::float8 AS expires_ms FROM rule_lists`,
        ),
      );
      const lists = new Map<string, Map<string, number>>();
      for (const { name, value, expires_ms } of rows) {
        const list = lists.get(name) ?? new Map<string, number>();
        list.set(value, expires_ms ?? NEVER_EXPIRES);
        lists.set(name, list);
      }
      return lists;
    },
  };
}

import { sql } from "slonik";
import { z } from "zod";
import { type Actor, withAudit } from "../audit/audit-store.ts";
import { withDbErrors } from "../store/db-errors.ts";
import type { DatabasePool } from "../store/pool.ts";

/*
 * Named lists the rules refer to (`in_list`): blocked devices, merchants, countries. Every change
 * bumps a counter that consumers poll, so a change reaches scoring within seconds. Every method
 * throws SentinelError.
 */

export function createListStore({ pool }: { pool: DatabasePool }) {
  return {
    /** Adds values (those present already are kept); how many were new. Audited. */
    async addToList(name: string, values: readonly string[], actor: Actor): Promise<number> {
      return withAudit(pool, "add to list", actor, async (t, audit) => {
        const added = await t.anyFirst(sql.type(z.object({ value: z.string() }))`
            INSERT INTO rule_lists (name, value) SELECT ${name}, v FROM unnest(${sql.array(values, "text")}) AS v
            ON CONFLICT DO NOTHING RETURNING value`);
        await t.query(sql.unsafe`UPDATE rule_lists_version SET version = version + 1`);
        if (added.length > 0) audit.push({ action: "list.add", target: name, after: added });
        return added.length;
      });
    },

    /** Removes values; how many were there. Audited. */
    async removeFromList(name: string, values: readonly string[], actor: Actor): Promise<number> {
      return withAudit(pool, "remove from list", actor, async (t, audit) => {
        const removed = await t.anyFirst(sql.type(z.object({ value: z.string() }))`
            DELETE FROM rule_lists WHERE name = ${name} AND value = ANY(${sql.array(values, "text")})
            RETURNING value`);
        await t.query(sql.unsafe`UPDATE rule_lists_version SET version = version + 1`);
        if (removed.length > 0) audit.push({ action: "list.remove", target: name, before: removed });
        return removed.length;
      });
    },

    async listEntries(name: string): Promise<readonly string[]> {
      return withDbErrors("read list", () =>
        pool.anyFirst(sql.type(z.object({ value: z.string() }))`
          SELECT value FROM rule_lists WHERE name = ${name} ORDER BY value`),
      );
    },

    /** The names of the lists that exist (hold at least one entry). */
    async listNames(): Promise<Set<string>> {
      const rows = await withDbErrors("list names", () =>
        pool.anyFirst(sql.type(z.object({ name: z.string() }))`SELECT DISTINCT name FROM rule_lists`),
      );
      return new Set(rows);
    },

    /** Every list, for scoring. */
    async allLists(): Promise<Map<string, Set<string>>> {
      const rows = await withDbErrors("read lists", () =>
        pool.any(
          sql.type(z.object({ name: z.string(), value: z.string() }))`SELECT name, value FROM rule_lists`,
        ),
      );
      const lists = new Map<string, Set<string>>();
      for (const { name, value } of rows) {
        const set = lists.get(name) ?? new Set<string>();
        set.add(value);
        lists.set(name, set);
      }
      return lists;
    },
  };
}

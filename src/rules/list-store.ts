import { sql } from "slonik";
import { z } from "zod";
import { withDbErrors } from "../store/db-errors.ts";
import type { DatabasePool } from "../store/pool.ts";

/*
 * Named lists the rules refer to (`in_list`): blocked devices, merchants, countries. Every change
 * bumps a counter that consumers poll, so a change reaches scoring within seconds. Every method
 * throws SentinelError.
 */

export function createListStore({ pool }: { pool: DatabasePool }) {
  return {
    async addToList(name: string, values: readonly string[]): Promise<number> {
      return withDbErrors("add to list", () =>
        pool.transaction(async (t) => {
          const added = await t.anyFirst(sql.type(z.object({ value: z.string() }))`
            INSERT INTO rule_lists (name, value) SELECT ${name}, v FROM unnest(${sql.array(values, "text")}) AS v
            ON CONFLICT DO NOTHING RETURNING value`);
          await t.query(sql.unsafe`UPDATE rule_lists_version SET version = version + 1`);
          return added.length;
        }),
      );
    },

    async removeFromList(name: string, values: readonly string[]): Promise<number> {
      return withDbErrors("remove from list", () =>
        pool.transaction(async (t) => {
          const removed = await t.anyFirst(sql.type(z.object({ value: z.string() }))`
            DELETE FROM rule_lists WHERE name = ${name} AND value = ANY(${sql.array(values, "text")})
            RETURNING value`);
          await t.query(sql.unsafe`UPDATE rule_lists_version SET version = version + 1`);
          return removed.length;
        }),
      );
    },

    async listEntries(name: string): Promise<readonly string[]> {
      return withDbErrors("read list", () =>
        pool.anyFirst(sql.type(z.object({ value: z.string() }))`
          SELECT value FROM rule_lists WHERE name = ${name} ORDER BY value`),
      );
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

import { sql } from "slonik";
import { z } from "zod";
import { SentinelError } from "../errors.ts";
import { withDbErrors } from "./db-errors.ts";
import type { DatabasePool } from "./pool.ts";

/** Where a dead letter's message was read: the key of the redrive ledger. */
export type LetterSource = { topic: string; partition: number; offset: string };
export type RedriveRecord = LetterSource & { dlqPartition: number; dlqOffset: string; reason: string };

/** Any 64-bit number, the same for every redrive: one redrive at a time. */
const REDRIVE_LOCK = 0x5e_47_1e_d1;

const sourceRow = (s: LetterSource) => ({ t: s.topic, p: s.partition, o: s.offset });

export type RedriveStore = ReturnType<typeof createRedriveStore>;

/**
 * The ledger of `sentinel dlq redrive` (table dlq_redrives, migration 002): what was moved back to
 * `transactions`, one row per dead letter, keyed by where its message was read.
 */
export function createRedriveStore({ pool }: { pool: DatabasePool }) {
  return {
    /** Which of these sources a redrive already moved. */
    async redriven(sources: readonly LetterSource[]): Promise<LetterSource[]> {
      if (sources.length === 0) return [];
      const rows = await withDbErrors("read redrives", () =>
        pool.any(sql.type(z.object({ t: z.string(), p: z.number(), o: z.string() }))`
          SELECT source_topic AS t, source_partition AS p, source_offset::text AS o
          FROM dlq_redrives JOIN json_to_recordset(${JSON.stringify(sources.map(sourceRow))}::json)
            AS l(t text, p int4, o int8)
            ON (source_topic, source_partition, source_offset) = (l.t, l.p, l.o)`),
      );
      return rows.map((r) => ({ topic: r.t, partition: r.p, offset: r.o }));
    },

    /** Records moved letters; one already recorded is left as it is. */
    async record(moved: readonly RedriveRecord[]): Promise<void> {
      if (moved.length === 0) return;
      const rows = moved.map((m) => ({ ...sourceRow(m), dp: m.dlqPartition, dof: m.dlqOffset, r: m.reason }));
      await withDbErrors("record redrives", () =>
        pool.query(sql.unsafe`
          INSERT INTO dlq_redrives (source_topic, source_partition, source_offset, dlq_partition, dlq_offset, reason)
          SELECT t, p, o, dp, dof, r
          FROM json_to_recordset(${JSON.stringify(rows)}::json)
            AS l(t text, p int4, o int8, dp int4, dof int8, r text)
          ON CONFLICT DO NOTHING`),
      );
    },

    /**
     * Runs `work` holding the redrive lock (a session advisory lock on a connection held meanwhile).
     * @throws SentinelError unavailable when another redrive holds it.
     */
    async exclusively<T>(work: () => Promise<T>): Promise<T> {
      return pool.connect(async (conn) => {
        const locked = await withDbErrors("take the redrive lock", () =>
          conn.oneFirst(
            sql.type(z.object({ ok: z.boolean() }))`SELECT pg_try_advisory_lock(${REDRIVE_LOCK}) AS ok`,
          ),
        );
        if (!locked)
          throw new SentinelError("unavailable", "another dlq redrive is running; try again when it ends");
        try {
          return await work();
        } finally {
          await conn.query(sql.unsafe`SELECT pg_advisory_unlock(${REDRIVE_LOCK})`).catch(() => {});
        }
      });
    },
  };
}

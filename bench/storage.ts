import { sql } from "slonik";
import { z } from "zod";
import { createSandbox } from "../src/stack/sandbox.ts";
import { createDatabasePool } from "../src/store/pool.ts";
import { applyRetention } from "../src/store/retention.ts";
import { createTransactionStore } from "../src/store/transaction-store.ts";
import { storedItem } from "../test/support/stored-items.ts";
import { benchServices, log } from "./lib/services.ts";

/*
 * `npm run bench:storage [-- --quick]` (issue 34): what a stored transaction costs on disk (its row,
 * its live decision, its share of a review's case, every index), and the tables staying flat over
 * a simulated 60 days under a 30-day retention — the transactions stored a day at a time through
 * the scorer's own statement (storeDecided), the retention job run after each day as of its end.
 */

const DAY = 86_400_000;

export type StorageBench = {
  perDay: number;
  bytesPerTransaction: number;
  /** After each simulated week: the day, the rows kept, and the MiB of transactions + decisions + cases. */
  weeks: Array<{ day: number; rows: number; mib: number }>;
};

const SIZE = sql.type(z.object({ bytes: z.number(), rows: z.number() }))`
  SELECT (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
          WHERE c.relkind = 'r' AND (c.relname LIKE 'transactions%' OR c.relname LIKE 'decisions%' OR c.relname = 'cases'))::float8 AS bytes,
         (SELECT count(*) FROM transactions)::float8 AS rows`;

export async function benchStorage({
  perDay = 10_000,
  days = 60,
  retentionDays = 30,
} = {}): Promise<StorageBench> {
  const services = await benchServices();
  const sandbox = await createSandbox(services, { prefix: "bench" });
  const pool = await createDatabasePool(sandbox.config.database.url, { maxPoolSize: 2 });
  try {
    const store = createTransactionStore({ pool });
    const start = Math.floor(Date.now() / DAY) * DAY - days * DAY;
    const weeks: StorageBench["weeks"] = [];
    let bytesPerTransaction = 0;
    let offset = 0;
    for (let day = 0; day < days; day++) {
      for (let i = 0; i < perDay; i += 2_000) {
        const items = Array.from({ length: Math.min(2_000, perDay - i) }, (_, k) =>
          storedItem({
            userId: `storage-${(i + k) % 5_000}`,
            receivedMs: start + day * DAY + Math.floor(((i + k) / perDay) * DAY),
            offset: offset++,
            index: i + k,
            review: k % 50 === 0,
          }),
        );
        await store.storeDecided(items);
      }
      await applyRetention(
        pool,
        {
          transactionsDays: retentionDays,
          casesDays: 365,
          webhookDeliveriesDays: 30,
          outboxDays: 7,
          userStateDays: 366,
        },
        start + (day + 1) * DAY,
      );
      if (day === retentionDays - 1) {
        await pool.query(sql.unsafe`VACUUM ANALYZE`);
        const s = await pool.one(SIZE);
        bytesPerTransaction = Math.round(s.bytes / s.rows);
      }
      if ((day + 1) % 7 === 0 || day === days - 1) {
        const s = await pool.one(SIZE);
        weeks.push({ day: day + 1, rows: s.rows, mib: Math.round((s.bytes / 2 ** 20) * 10) / 10 });
        log(`day ${day + 1}: ${s.rows} transactions kept, ${(s.bytes / 2 ** 20).toFixed(1)} MiB`);
      }
    }
    return { perDay, bytesPerTransaction, weeks };
  } finally {
    await pool.end();
    await sandbox.cleanup();
  }
}

export function storageLines(b: StorageBench): Record<string, number> {
  const at = (day: number) => b.weeks.find((w) => w.day >= day) ?? b.weeks.at(-1)!;
  return {
    storage_bytes_per_transaction: b.bytesPerTransaction,
    storage_mib_day_35: at(35).mib,
    storage_mib_day_60: b.weeks.at(-1)!.mib,
    storage_rows_day_60: b.weeks.at(-1)!.rows,
  };
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const b = await benchStorage(quick ? { perDay: 2_000 } : {});
  for (const [k, v] of Object.entries(storageLines(b))) console.log(`${k}=${v}`);
}

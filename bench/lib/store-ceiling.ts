import pg from "pg";
import type { Decision } from "../../src/domain/decision.ts";
import type { SourcedTransaction } from "../../src/domain/transaction.ts";
import { createSandbox, type Services } from "../../src/stack/sandbox.ts";
import { createDatabasePool } from "../../src/store/pool.ts";
import { createTransactionStore } from "../../src/store/transaction-store.ts";

/*
 * The persistence ceiling: the rows the scorer stored (transactions and their decisions), written
 * again into an empty database of their own by a bare loop — the same driver, pool settings and
 * statement (storeDecided, one statement per 1,000 rows, as a scorer round) and nothing else. The
 * scorer's figure divided by this one says how much of what PostgreSQL takes on this box the
 * scorer uses.
 */

export type StoreCeiling = { rows: number; seconds: number; rowsPerSec: number };

export async function storeCeiling(
  services: Services,
  sourceDatabaseUrl: string,
  batch = 1_000,
): Promise<StoreCeiling> {
  const source = new pg.Client({ connectionString: sourceDatabaseUrl });
  await source.connect();
  const { rows } = await source
    .query(
      `SELECT t.transaction_id::text AS id, t.user_id, t.amount::text AS amount, t.currency, t.merchant_id,
              t.merchant_category, t.country, t.channel, t.device_id, host(t.ip) AS ip, t.metadata,
              (extract(epoch FROM t.event_time) * 1000)::float8 AS event_ms,
              (extract(epoch FROM t.received_at) * 1000)::float8 AS received_ms,
              t.source_partition, t.source_offset::text, d.rules_version, d.decision, d.score, d.reasons,
              d.decided_at
       FROM transactions t JOIN decisions d ON d.transaction_id = t.transaction_id AND d.live
       ORDER BY t.source_partition, t.source_offset`,
    )
    .finally(() => source.end());
  const items = rows.map((r) => {
    const tx = Object.fromEntries(
      Object.entries({
        transaction_id: r.id,
        user_id: r.user_id,
        amount: r.amount,
        currency: r.currency,
        merchant_id: r.merchant_id,
        merchant_category: r.merchant_category,
        country: r.country,
        channel: r.channel,
        device_id: r.device_id,
        ip: r.ip,
        metadata: r.metadata,
      }).filter(([, v]) => v !== null),
    ) as SourcedTransaction["tx"];
    const decision: Decision = {
      transaction_id: r.id,
      user_id: r.user_id,
      decision: r.decision,
      score: r.score,
      reasons: r.reasons,
      rules_version: r.rules_version,
      decided_at: new Date(r.decided_at).toISOString(),
    };
    return {
      source: {
        tx,
        eventTimeMs: r.event_ms,
        receivedMs: r.received_ms,
        partition: r.source_partition,
        offset: Number(r.source_offset),
      },
      decision,
    };
  });
  const sandbox = await createSandbox(services, { prefix: "ceiling" });
  const pool = await createDatabasePool(sandbox.config.database.url, { maxPoolSize: 2 });
  try {
    const store = createTransactionStore({ pool });
    const started = performance.now();
    for (let i = 0; i < items.length; i += batch) await store.storeDecided(items.slice(i, i + batch));
    const seconds = (performance.now() - started) / 1000;
    return { rows: items.length, seconds, rowsPerSec: items.length / seconds };
  } finally {
    await pool.end();
    await sandbox.cleanup();
  }
}

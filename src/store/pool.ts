import { createPool, type DatabasePool, sql } from "slonik";
import type { Config } from "../config.ts";

export type { DatabasePool };

/*
 * Type parsers: slonik's preset turns NUMERIC into a JS float, which law 6 forbids. We keep NUMERIC
 * and timestamps as the strings PostgreSQL sends and parse only int8 (counts, offsets).
 */
const TYPE_PARSERS = [{ name: "int8", parse: (v: string) => Number.parseInt(v, 10) }];

/** @throws slonik's ConnectionError when PostgreSQL cannot be reached within connectionTimeout. */
export async function createDatabasePool(url: string, options: { maxPoolSize?: number; name?: string } = {}) {
  return createPool(url, {
    maximumPoolSize: options.maxPoolSize ?? 10,
    minimumPoolSize: 0,
    typeParsers: TYPE_PARSERS,
    connectionTimeout: 5_000,
    statementTimeout: 30_000,
    idleTimeout: 10_000,
    // Retries are the caller's decision (the consumer backs off; HTTP answers 503).
    connectionRetryLimit: 1,
    queryRetryLimit: 0,
    transactionRetryLimit: 0,
    captureStackTrace: false,
    // slonik's default runs DISCARD ALL on every release: a second round trip per query, and the
    // connection stays busy meanwhile (it was most of the consumer's per-chunk latency). Nothing
    // here changes session state (no SET, temporary tables or LISTEN), so there is nothing to reset.
    resetConnection: async () => {},
    poolName: options.name ?? "sentinel",
  });
}

/** Whether PostgreSQL answers a trivial query (readiness); never throws. */
export function pingDatabase(pool: DatabasePool): Promise<boolean> {
  return pool.oneFirst(sql.unsafe`SELECT 1`).then(
    () => true,
    () => false,
  );
}

/** Runs a command-line operation on a small pool of its own, closed afterwards. */
export async function withPool<T>(
  config: Pick<Config, "database">,
  run: (pool: DatabasePool) => Promise<T>,
): Promise<T> {
  const pool = await createDatabasePool(config.database.url, { maxPoolSize: 2 });
  try {
    return await run(pool);
  } finally {
    await pool.end();
  }
}

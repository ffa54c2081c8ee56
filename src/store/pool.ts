import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { ConnectionOptions } from "node:tls";
import { createPool, type DatabasePool, sql } from "slonik";
import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";
import { backoffMs } from "../poll.ts";

export type { DatabasePool };

/*
 * Type parsers: slonik's preset turns NUMERIC into a JS float, which law 6 forbids. We keep NUMERIC
 * and timestamps as the strings PostgreSQL sends and parse only int8 (counts, offsets).
 */
const TYPE_PARSERS = [{ name: "int8", parse: (v: string) => Number.parseInt(v, 10) }];

/**
 * libpq's TLS parameters, which slonik's URL parser does not all know (issue 34): `sslmode`
 * (`require`, `verify-ca`, `verify-full`; `disable`) and `sslrootcert`, `sslcert`, `sslkey` files.
 * Returns the URL without them and node's TLS options. `verify-full` checks the chain and the
 * server's name; `verify-ca` the chain only; `require` encrypts (and, as libpq does, verifies the
 * chain when a root certificate is given).
 */
export function databaseTls(url: string): { url: string; ssl: ConnectionOptions | undefined } {
  const u = new URL(url);
  const params = u.searchParams;
  const mode = params.get("sslmode");
  const files = { ca: params.get("sslrootcert"), cert: params.get("sslcert"), key: params.get("sslkey") };
  for (const name of ["sslmode", "sslrootcert", "sslcert", "sslkey"]) params.delete(name);
  if (mode === null || mode === "disable" || mode === "prefer" || mode === "allow")
    return { url: mode === null ? url : u.toString(), ssl: undefined };
  const read = (f: string | null) => (f === null ? undefined : readFileSync(f, "utf8"));
  const verify = mode === "verify-full" || mode === "verify-ca" || files.ca !== null;
  return {
    url: u.toString(),
    ssl: {
      ca: read(files.ca),
      cert: read(files.cert),
      key: read(files.key),
      rejectUnauthorized: verify,
      ...(mode === "verify-full" ? {} : { checkServerIdentity: () => undefined }),
    },
  };
}

/**
 * The scorer's round statements are named (prepared once per connection: parsing them was a third
 * of PostgreSQL's CPU for a round of 25), but planned at every execution: a generic plan made while
 * a week's partition is new and empty scans it sequentially until autovacuum next analyzes it — a
 * minute of rounds reading every row (measured: PostgreSQL went from 0.3 to 0.8–7.6 ms per
 * transaction in the first minute of a fresh database, docs/performance.md). So every session of ours starts with
 * `plan_cache_mode = force_custom_plan`, added to the URL's `options` (and PGOPTIONS', which the
 * driver reads only when the URL has none), unless the operator set `plan_cache_mode` there.
 */
export function withSessionOptions(url: string, env: NodeJS.ProcessEnv = process.env): string {
  const u = new URL(url);
  const given = u.searchParams.get("options") ?? env.PGOPTIONS ?? "";
  if (given.includes("plan_cache_mode")) return url;
  u.searchParams.set("options", `${given} -c plan_cache_mode=force_custom_plan`.trim());
  return u.toString();
}

/** @throws slonik's ConnectionError when PostgreSQL cannot be reached within connectionTimeout. */
export async function createDatabasePool(dsn: string, options: { maxPoolSize?: number; name?: string } = {}) {
  const { url, ssl } = databaseTls(dsn);
  return createPool(withSessionOptions(url), {
    ...(ssl ? { ssl } : {}),
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

/**
 * createDatabasePool for a long-running process: slonik's pool connects once when it is created,
 * and a PostgreSQL that is away at that moment (a restart, a network cut) would end the process.
 * Retries with backoff for `timeoutMs`, saying so in the log.
 * @throws the last connection error after `timeoutMs`.
 */
export async function createDatabasePoolWhenReachable(
  url: string,
  options: { maxPoolSize?: number },
  { timeoutMs, logger }: { timeoutMs: number; logger: Logger },
): Promise<DatabasePool> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await createDatabasePool(url, options);
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      const wait = backoffMs(attempt, { baseMs: 250, maxMs: 5_000 });
      logger.warn(
        { err: (error as Error).message, attempt, retryInMs: wait },
        "PostgreSQL not reachable yet",
      );
      await sleep(wait);
    }
  }
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

import { sql } from "slonik";
import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";
import { migrate } from "./migrate.ts";
import { createDatabasePool } from "./pool.ts";

/** Creates the configured database when missing (connecting to the `postgres` one to do it). */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  const admin = new URL(databaseUrl);
  admin.pathname = "/postgres";
  const pool = await createDatabasePool(admin.toString(), { maxPoolSize: 1, name: "sentinel-admin" });
  try {
    const exists = await pool.exists(sql.unsafe`SELECT 1 FROM pg_database WHERE datname = ${name}`);
    if (exists) return false;
    await pool.query(sql.unsafe`CREATE DATABASE ${sql.identifier([name])}`);
    return true;
  } finally {
    await pool.end();
  }
}

export async function prepareDatabase(config: Config, logger: Logger): Promise<string[]> {
  if (await ensureDatabase(config.database.url))
    logger.info({ database: config.database.url }, "database created");
  return migrate(config.database.url, logger);
}

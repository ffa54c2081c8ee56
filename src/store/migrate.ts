import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import type { Logger } from "../logger.ts";
import { databaseTls } from "./pool.ts";

/*
 * A small forward-only runner over plain SQL files (src/store/migrations/NNN_name.sql). Each file
 * runs once, in its own transaction, under an advisory lock so concurrent starters do not race;
 * a changed checksum of an applied file stops the run rather than drifting silently.
 *
 * It uses node-postgres directly (slonik's driver underneath) because a migration file holds many
 * statements, which only the simple query protocol runs; slonik rightly refuses them.
 */

const MIGRATIONS_DIR = join(import.meta.dirname, "migrations");
const LOCK_KEY = 0x5e471e1; // any constant shared by every SentinelStream process

export type Migration = { name: string; sql: string; checksum: string };

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (name) => {
      const text = await readFile(join(dir, name), "utf8");
      return { name, sql: text, checksum: createHash("sha256").update(text).digest("hex") };
    }),
  );
}

/**
 * Applies pending migrations to the database at `databaseUrl`; returns the names applied.
 * @throws Error when an applied migration's file has changed since, or PostgreSQL fails.
 */
export async function migrate(databaseUrl: string, logger?: Logger): Promise<string[]> {
  const migrations = await loadMigrations();
  const { url, ssl } = databaseTls(databaseUrl);
  const client = new pg.Client({ connectionString: url, ssl, application_name: "sentinel-migrate" });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ name: string; checksum: string }>(
      "SELECT name, checksum FROM schema_migrations",
    );
    const applied = new Map(rows.map((r) => [r.name, r.checksum]));
    const done: string[] = [];
    for (const m of migrations) {
      const previous = applied.get(m.name);
      if (previous !== undefined) {
        if (previous !== m.checksum) throw new Error(`migration ${m.name} changed after it was applied`);
        continue;
      }
      await client.query("BEGIN");
      try {
        await client.query(m.sql);
        await client.query("INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", [
          m.name,
          m.checksum,
        ]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        throw new Error(`migration ${m.name} failed: ${(error as Error).message}`, { cause: error });
      }
      logger?.info({ migration: m.name }, "migration applied");
      done.push(m.name);
    }
    return done;
  } finally {
    await client.end(); // ends the session, releasing the advisory lock
  }
}

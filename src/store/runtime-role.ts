import { sql } from "slonik";
import type { DatabasePool } from "./pool.ts";

/*
 * Least privilege (issue 34): `sentinel migrate` runs as the owner of the schema; the services run
 * as a runtime role that owns nothing and holds only the grants they use. It reads and writes the
 * pipeline's tables, appends to the audit trail and reads it (no UPDATE, DELETE or TRUNCATE there),
 * reads which migrations ran, and can change no table's shape or triggers (only an owner can).
 */

/** Tables the runtime role may only read and append to. */
const APPEND_ONLY = ["audit_log"] as const;
/** Tables the runtime role may only read. */
const READ_ONLY = ["schema_migrations", "storage_partitions"] as const;
/** SECURITY DEFINER functions it may call (migration 016: partitions, and their retention). */
const FUNCTIONS = {
  "sentinel_ensure_partitions(timestamptz, timestamptz)": sql.fragment`sentinel_ensure_partitions(timestamptz, timestamptz)`,
  "sentinel_drop_partitions(timestamptz)": sql.fragment`sentinel_drop_partitions(timestamptz)`,
};

/**
 * Creates the runtime role when missing (NOLOGIN unless a password is given: then LOGIN with it)
 * and grants it what the services use on every table of the schema. Idempotent; run after the
 * migrations, as their owner.
 */
export async function grantRuntimeRole(
  pool: DatabasePool,
  { role, password }: { role: string; password?: string | undefined },
): Promise<void> {
  const id = sql.identifier([role]);
  await pool.transaction(async (tx) => {
    const exists = await tx.exists(sql.unsafe`SELECT 1 FROM pg_roles WHERE rolname = ${role}`);
    if (!exists) await tx.query(sql.unsafe`CREATE ROLE ${id} NOLOGIN`);
    if (password !== undefined)
      await tx.query(sql.unsafe`ALTER ROLE ${id} LOGIN PASSWORD ${sql.literalValue(password)}`);
    const database = await tx.oneFirst(sql.unsafe`SELECT current_database()`);
    await tx.query(sql.unsafe`GRANT CONNECT ON DATABASE ${sql.identifier([String(database)])} TO ${id}`);
    await tx.query(sql.unsafe`GRANT USAGE ON SCHEMA public TO ${id}`);
    await tx.query(sql.unsafe`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${id}`);
    await tx.query(sql.unsafe`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${id}`);
    for (const table of APPEND_ONLY)
      await tx.query(sql.unsafe`REVOKE UPDATE, DELETE ON ${sql.identifier([table])} FROM ${id}`);
    for (const table of READ_ONLY)
      await tx.query(sql.unsafe`REVOKE INSERT, UPDATE, DELETE ON ${sql.identifier([table])} FROM ${id}`);
    await tx.query(sql.unsafe`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${id}`);
    for (const [signature, fn] of Object.entries(FUNCTIONS)) {
      const exists = await tx.oneFirst(sql.unsafe`SELECT to_regprocedure(${signature}) IS NOT NULL`);
      if (exists) await tx.query(sql.unsafe`GRANT EXECUTE ON FUNCTION ${fn} TO ${id}`);
    }
  });
}

export type RoleCheck = { user: string; superuser: boolean; ownsSchema: boolean };

/** Who this pool connects as, and whether that role owns the pipeline's tables (doctor). */
export async function describeRole(pool: DatabasePool): Promise<RoleCheck> {
  const row = await pool.one(sql.unsafe`
    SELECT current_user AS "user",
           (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
           EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user)
             AS "ownsSchema"`);
  return row as unknown as RoleCheck;
}

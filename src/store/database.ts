import { sql } from "slonik";
import type { Config } from "../config.ts";
import { redactedUrl } from "../config-secrets.ts";
import type { Logger } from "../logger.ts";
import { activateDefaultRuleSet } from "../rules/default-activation.ts";
import { defaultRuleSet } from "../rules/default-rule-set.ts";
import { createRulesStore } from "../rules/rules-store.ts";
import { migrate } from "./migrate.ts";
import { createDatabasePool } from "./pool.ts";
import { grantRuntimeRole } from "./runtime-role.ts";

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

/**
 * Creates the database when missing, applies pending migrations, and makes sure a rule set is
 * active (the default set of RULES_*, while no operator activated one: rules/default-activation.ts).
 */
export async function prepareDatabase(config: Config, logger: Logger): Promise<string[]> {
  const url = config.database.migrateUrl;
  if (await ensureDatabase(url)) logger.info({ database: redactedUrl(url) }, "database created");
  const applied = await migrate(url, logger);
  const pool = await createDatabasePool(url, { maxPoolSize: 1, name: "sentinel-migrate" });
  try {
    await grantRuntimeRole(pool, {
      role: config.database.runtimeRole,
      password: config.database.runtimePassword,
    });
    const { version, activated } = await activateDefaultRuleSet(
      createRulesStore({ pool }),
      defaultRuleSet(config.rules),
    );
    if (activated) logger.info({ version }, "default rule set published and activated");
  } finally {
    await pool.end();
  }
  return applied;
}

import { userInfo } from "node:os";
import type { z } from "zod";
import type { Config } from "../config.ts";
import { toIssues } from "../domain/transaction.ts";
import { SentinelError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { newTable, out, toJson } from "../ops/output.ts";
import { createDatabasePool, withPool } from "../store/pool.ts";
import { AuditQuerySchema, toAuditQuery } from "./audit-plugin.ts";
import { type Actor, type AuditEntry, listAudit, recordAudit } from "./audit-store.ts";

/** Who acts from the command line: SENTINEL_OPERATOR, else the operating-system user, in the `cli` role. */
export function cliActor(config: Pick<Config, "operator">): Actor {
  return { name: config.operator ?? userInfo().username, role: "cli" };
}

/**
 * Writes one audit row for an operator's action that is no single database change (a replay that
 * re-decides, a DLQ redrive, an offset reset): on a pool of its own, before or after the action.
 * @throws SentinelError store_unavailable: the action is not run unaudited.
 */
export async function auditOperatorAction(
  config: Pick<Config, "operator" | "database">,
  entry: AuditEntry,
): Promise<void> {
  await withPool(config, (pool) => recordAudit(pool, cliActor(config), [entry]));
}

/** The command's options: the filters of GET /audit (as text, parsed by the same schema) and --json. */
export type AuditCliOptions = Partial<Record<keyof z.input<typeof AuditQuerySchema>, string>> & {
  json?: boolean;
};

/* `sentinel audit`: the audit trail, as GET /audit shows it. */
export async function auditCommand(
  config: Config,
  _logger: Logger,
  opts: {
    since?: string;
    until?: string;
    actor?: string;
    action?: string;
    target?: string;
    limit?: string;
    json?: boolean;
  },
): Promise<void> {
  const { json, ...query } = opts;
  const parsed = AuditQuerySchema.safeParse(query);
  if (!parsed.success) {
    throw new SentinelError(
      "validation_failed",
      toIssues(parsed.error)
        .map((i) => `--${i.path}: ${i.message}`)
        .join("\n"),
    );
  }
  const pool = await createDatabasePool(config.database.url, { maxPoolSize: 2 });
  try {
    const { entries } = await listAudit(pool, toAuditQuery(parsed.data));
    if (json) {
      for (const e of entries) out(toJson(e));
      return;
    }
    const table = newTable(["at", "actor", "role", "action", "target", "before → after"]);
    for (const e of entries) {
      table.push([
        e.at,
        e.actor,
        e.role,
        e.action,
        e.target,
        `${JSON.stringify(e.before)} → ${JSON.stringify(e.after)}`,
      ]);
    }
    out(table.toString());
  } finally {
    await pool.end();
  }
}

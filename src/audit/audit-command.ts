import { userInfo } from "node:os";
import type { z } from "zod";
import type { Config } from "../config.ts";
import { toIssues } from "../domain/transaction.ts";
import { SentinelError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { newTable, out, toJson } from "../ops/output.ts";
import { createDatabasePool } from "../store/pool.ts";
import { AuditQuerySchema, toAuditQuery } from "./audit-plugin.ts";
import { type Actor, listAudit } from "./audit-store.ts";

/** Who acts from the command line: the operating-system user, in the `cli` role. */
export function cliActor(): Actor {
  return { name: userInfo().username, role: "cli" };
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

import { cliActor } from "../audit/audit-command.ts";
import type { Config } from "../config.ts";
import { containsPanText } from "../domain/pan.ts";
import { SentinelError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { newTable, out, toJson } from "../ops/output.ts";
import { type DatabasePool, withPool } from "../store/pool.ts";
import type { ChangeKind, PayloadOf } from "./change-kinds.ts";
import { CHANGE_STATUSES, type ChangeStatus } from "./change-store.ts";
import { changeStoreFor } from "./changes.ts";

/*
 * `sentinel changes list|show|approve|reject` (issue 37), and `submitFromCli`, through which the
 * commands that alter decisions (rules, model and webhook activations and changes, lists) go, as
 * their HTTP routes do: applied at once, or proposed under APPROVALS_REQUIRED=true.
 */

/** The change's answer when applied now; null when it was proposed (the command says so). */
export async function submitFromCli<K extends ChangeKind>(
  config: Config,
  pool: DatabasePool,
  kind: K,
  payload: PayloadOf<K>,
): Promise<Record<string, unknown> | null> {
  const submitted = await changeStoreFor(config, pool).submit(kind, payload, cliActor(config));
  if ("applied" in submitted) return submitted.applied;
  const { change_id, expires_at } = submitted.proposed;
  out(`proposed: change ${change_id} (${kind}), pending until ${expires_at}`);
  out(`  another person approves it: sentinel changes approve ${change_id}`);
  return null;
}

export type ChangesAction = "list" | "show" | "approve" | "reject";

export async function changesCommand(
  config: Config,
  _logger: Logger,
  action: ChangesAction,
  args: string[],
  opts: { status?: string; reason?: string; json?: boolean },
): Promise<void> {
  const id = args[0];
  if (action !== "list" && !/^[0-9a-f-]{36}$/i.test(id ?? ""))
    throw new SentinelError("validation_failed", "name a change id (sentinel changes list)");
  await withPool(config, async (pool) => {
    const changes = changeStoreFor(config, pool);
    switch (action) {
      case "list": {
        if (opts.status !== undefined && !(CHANGE_STATUSES as readonly string[]).includes(opts.status))
          throw new SentinelError(
            "validation_failed",
            `--status must be one of ${CHANGE_STATUSES.join(", ")}`,
          );
        const rows = await changes.list(opts.status as ChangeStatus | undefined);
        if (opts.json) return out(toJson(rows));
        const table = newTable([
          "change",
          "kind",
          "target",
          "status",
          "proposed by",
          "proposed",
          "decided by",
        ]);
        for (const c of rows)
          table.push([
            c.change_id,
            c.kind,
            c.target,
            c.status,
            c.proposed_by,
            c.proposed_at,
            c.decided_by ?? "",
          ]);
        return out(table.toString());
      }
      case "show": {
        const change = await changes.get(id!);
        if (!change) throw new SentinelError("not_found", `no change ${id}`);
        return out(toJson(change));
      }
      case "approve": {
        const approved = await changes.approve(id!, cliActor(config));
        if (opts.json) return out(toJson(approved));
        out(
          `approved and applied: ${approved.kind} ${approved.target} (proposed by ${approved.proposed_by})`,
        );
        if (typeof approved.result.secret === "string")
          out(`  the endpoint's signing secret, shown this once: ${approved.result.secret}`);
        return;
      }
      case "reject": {
        if (!opts.reason || containsPanText(opts.reason))
          throw new SentinelError(
            "validation_failed",
            "a rejection needs a reason: --reason <text> (no card numbers)",
          );
        const rejected = await changes.reject(id!, opts.reason, cliActor(config));
        return out(opts.json ? toJson(rejected) : `rejected: ${rejected.kind} ${rejected.target}`);
      }
    }
  });
}

import type { Command } from "commander";
import type { ChangesAction } from "../governance/changes-command.ts";
import { withArgs } from "./actions.ts";

/** Four eyes at the command line (issue 37; docs/security.md#four-eyes). */
export function addChangesCommands(program: Command): void {
  const changes = program
    .command("changes")
    .description("proposed changes under APPROVALS_REQUIRED=true: list, show, approve, reject");
  const act = (action: ChangesAction) =>
    withArgs<{ status?: string; reason?: string; json?: boolean }>(async (c, l, positional, opts) =>
      (await import("../governance/changes-command.ts")).changesCommand(c, l, action, positional, opts),
    );
  changes
    .command("list", { isDefault: true })
    .description("proposed changes, newest first")
    .option("--status <status>", "pending, approved, rejected or expired")
    .option("--json")
    .action(act("list"));
  changes.command("show <id>").description("one change and what it would do now").action(act("show"));
  changes
    .command("approve <id>")
    .description("approve and apply a pending change (not one you proposed)")
    .option("--json")
    .action(act("approve"));
  changes
    .command("reject <id>")
    .description("reject a pending change, saying why")
    .requiredOption("--reason <text>", "why")
    .option("--json")
    .action(act("reject"));
}

import type { Command } from "commander";
import type { RulesAction } from "../rules/rules-command.ts";
import { oneShot, ops, withArgs } from "./actions.ts";

/** Rule sets, lists and rule performance. */
export function addRulesCommands(program: Command): void {
  const rules = program.command("rules").description("the fraud rules: versions, activation, performance");
  const ruleAction = (action: RulesAction) =>
    withArgs<{ json?: boolean; off?: boolean }>(async (c, l, positional, opts) =>
      (await ops()).rulesCommand(c, l, action, positional, opts),
    );
  rules
    .command("validate <file>")
    .description("check a rule set file; every problem with its JSON path")
    .option("--json")
    .action(ruleAction("validate"));
  rules
    .command("publish <file>")
    .description("store a rule set version (content-addressed, immutable)")
    .option("--json")
    .action(ruleAction("publish"));
  rules
    .command("list")
    .description("published versions, the active one marked")
    .option("--json")
    .action(ruleAction("list"));
  rules
    .command("show <version>")
    .description("a version's document (or a .json file)")
    .action(ruleAction("show"));
  rules
    .command("diff <a> <b>")
    .description("what changed between two versions (or .json files)")
    .option("--json")
    .action(ruleAction("diff"));
  rules
    .command("activate <version>")
    .description("make a published version the active one")
    .action(ruleAction("activate"));
  rules
    .command("shadow [version]")
    .description(
      "decide every new transaction with this version too, stored beside the live decision, not published",
    )
    .option("--off", "stop shadowing")
    .action(ruleAction("shadow"));
  rules
    .command("compare")
    .description("the shadow's moves against the live decisions since it started")
    .option("--json")
    .action(ruleAction("compare"));
  rules
    .command("rollback")
    .description("activate the version that was active before")
    .action(ruleAction("rollback"));
  rules
    .command("performance")
    .description("per rule (reason) and outcome: fired, labelled fraud / legitimate, unlabelled, precision")
    .option("--since <time>", "RFC 3339; default: 30 days before --until")
    .option("--until <time>", "RFC 3339; default: now")
    .option("--json", "print as JSON")
    .action(
      oneShot(async (c, l, opts: { since?: string; until?: string; json?: boolean }) =>
        (await ops()).rulesPerformanceCommand(c, l, opts),
      ),
    );
}

/** `sentinel lists …`: the named lists the rules refer to (issue 37: expiry, reasons, history). */
export function addListsCommands(program: Command): void {
  const lists = program.command("lists").description("named lists the rules refer to (in_list)");
  lists
    .command("add <name> <values...>")
    .description("add entries (consumers see it within seconds); an entry already there is renewed")
    .option("--expires <time>", "RFC 3339: the entries stop matching transactions received from then on")
    .option("--reason <text>", "why they are on the list")
    .action((name: string, values: string[], opts: { expires?: string; reason?: string }) =>
      oneShot(async (c, l) => (await ops()).listsCommand(c, l, "add", name, values, opts))(),
    );
  lists
    .command("remove <name> <values...>")
    .description("remove entries (consumers see it within seconds)")
    .requiredOption("--reason <text>", "why (kept in the list's history)")
    .action((name: string, values: string[], opts: { reason: string }) =>
      oneShot(async (c, l) => (await ops()).listsCommand(c, l, "remove", name, values, opts))(),
    );
  lists
    .command("show <name>")
    .description("a list's entries: value, expiry, reason, who added it")
    .action((name: string) => oneShot(async (c, l) => (await ops()).listsCommand(c, l, "show", name, []))());
  lists
    .command("history <name>")
    .description("a list's additions and removals, newest first")
    .action((name: string) =>
      oneShot(async (c, l) => (await ops()).listsCommand(c, l, "history", name, []))(),
    );
}

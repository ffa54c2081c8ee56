import { readFile } from "node:fs/promises";
import { cliActor } from "../audit/audit-command.ts";
import type { Config } from "../config.ts";
import { containsPanText } from "../domain/pan.ts";
import { SentinelError } from "../errors.ts";
import { submitFromCli } from "../governance/changes-command.ts";
import type { Logger } from "../logger.ts";
import { newTable, out, toJson } from "../ops/output.ts";
import { withPool } from "../store/pool.ts";
import { publishRuleSet } from "./publish-rule-set.ts";
import { type RuleSet, ruleSetVersion, validateRuleSet } from "./rule-language.ts";
import { diffRuleSets } from "./rule-set-diff.ts";
import { createRulesStore, type ShadowMove } from "./rules-store.ts";

/** Reads and validates a rule set file. @throws SentinelError validation_failed listing each problem with its JSON path. */
export async function readRuleSetFile(file: string): Promise<RuleSet> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new SentinelError("validation_failed", `${file}: ${(error as Error).message}`);
  }
  const valid = validateRuleSet(doc);
  if (!valid.ok) {
    throw new SentinelError(
      "validation_failed",
      `${file} is not a valid rule set:\n${valid.issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`,
    );
  }
  return valid.ruleSet;
}

/** A published version's document, or a local file (a path ending in .json). */
export async function resolveRuleSet(
  config: Config,
  ref: string,
): Promise<{ version: string; ruleSet: RuleSet }> {
  if (ref.endsWith(".json")) {
    const ruleSet = await readRuleSetFile(ref);
    return { version: ruleSetVersion(ruleSet), ruleSet };
  }
  const doc = await withPool(config, (pool) => createRulesStore({ pool }).get(ref));
  if (doc === null) throw new SentinelError("not_found", `no rule set version ${ref}: publish it first`);
  const valid = validateRuleSet(doc);
  if (!valid.ok) throw new SentinelError("internal", `stored rule set ${ref} is invalid`);
  return { version: ref, ruleSet: valid.ruleSet };
}

/** A shadow's moves against the live decisions, as a table (nothing when none moved). */
export function printMoves(moves: readonly ShadowMove[]): void {
  if (moves.length === 0) return;
  const table = newTable(["live → shadow", "count", "examples"]);
  for (const m of moves) table.push([`${m.from} → ${m.to}`, m.count, m.examples.join("\n")]);
  out(table.toString());
}

export type RulesAction =
  | "validate"
  | "publish"
  | "list"
  | "show"
  | "diff"
  | "activate"
  | "rollback"
  | "shadow"
  | "compare";

export async function rulesCommand(
  config: Config,
  _logger: Logger,
  action: RulesAction,
  args: string[],
  opts: { json?: boolean; off?: boolean },
): Promise<void> {
  switch (action) {
    case "validate": {
      const ruleSet = await readRuleSetFile(args[0]!);
      return out(
        opts.json
          ? toJson({ valid: true, version: ruleSetVersion(ruleSet) })
          : `valid: ${ruleSetVersion(ruleSet)} (${ruleSet.rules.length} rules)`,
      );
    }
    case "publish": {
      const ruleSet = await readRuleSetFile(args[0]!);
      const { version, created } = await withPool(config, (pool) =>
        publishRuleSet(createRulesStore({ pool }), ruleSet, cliActor(config)),
      );
      return out(
        opts.json
          ? toJson({ version, created })
          : `${created ? "published" : "already published"}: ${version}`,
      );
    }
    case "list": {
      const versions = await withPool(config, (pool) => createRulesStore({ pool }).list());
      if (opts.json) return out(toJson(versions));
      const table = newTable(["version", "published", "active", "last activated"]);
      for (const v of versions)
        table.push([v.version, v.published_at, v.active ? "yes" : "", v.last_activated_at ?? ""]);
      out(table.toString());
      if (!versions.some((v) => v.active))
        out("no version activated: consumers use the default rule set (RULES_*)");
      return;
    }
    case "show": {
      const { ruleSet } = await resolveRuleSet(config, args[0]!);
      return out(JSON.stringify(ruleSet, null, 2));
    }
    case "diff": {
      const [a, b] = await Promise.all([resolveRuleSet(config, args[0]!), resolveRuleSet(config, args[1]!)]);
      const lines = diffRuleSets(a.ruleSet, b.ruleSet);
      if (opts.json) return out(toJson({ from: a.version, to: b.version, changes: lines }));
      out(`${a.version} → ${b.version}`);
      for (const line of lines.length > 0 ? lines : ["(no difference)"]) out(`  ${line}`);
      return;
    }
    case "activate": {
      const done = await withPool(config, (pool) =>
        submitFromCli(config, pool, "rules.activate", { version: args[0]! }),
      );
      if (done) out(`active: ${args[0]} (running consumers switch within seconds)`);
      return;
    }
    case "shadow": {
      const version = opts.off ? null : (args[0] ?? null);
      if (!opts.off && !version)
        throw new SentinelError("validation_failed", "name a version to shadow, or --off");
      const done = await withPool(config, (pool) => submitFromCli(config, pool, "rules.shadow", { version }));
      if (!done) return;
      return out(
        version
          ? `shadowing ${version}: new transactions are also decided by it (not published)`
          : "shadow off",
      );
    }
    case "compare": {
      const c = await withPool(config, (pool) => createRulesStore({ pool }).compareShadow());
      if (opts.json) return out(toJson(c));
      if (!c.version) return out("no shadow running (sentinel rules shadow <version>)");
      out(
        `shadow ${c.version} since ${c.startedAt}: ${c.compared} transactions decided by both, ${c.moves.reduce((n, m) => n + m.count, 0)} moved`,
      );
      printMoves(c.moves);
      return;
    }
    case "rollback": {
      const done = await withPool(config, (pool) => submitFromCli(config, pool, "rules.rollback", {}));
      if (done) out(`active: ${done.active} (rolled back)`);
      return;
    }
  }
}

export async function listsCommand(
  config: Config,
  _logger: Logger,
  action: "add" | "remove" | "show" | "history",
  name: string,
  values: string[],
  opts: { expires?: string; reason?: string } = {},
): Promise<void> {
  if (!/^[a-z][a-z0-9_]{0,63}$/.test(name))
    throw new SentinelError("validation_failed", `"${name}" is not a list name such as blocked_devices`);
  await withPool(config, async (pool) => {
    const store = createRulesStore({ pool });
    if (action === "show") {
      for (const e of await store.listEntries(name))
        out(
          [
            e.value,
            e.expires_at ? `until ${e.expires_at}${e.expired ? " (expired)" : ""}` : "",
            e.reason ?? "",
            e.added_by ?? "",
          ]
            .filter(Boolean)
            .join("\t"),
        );
      return;
    }
    if (action === "history") {
      for (const h of await store.listHistory(name))
        out(
          [h.at, h.action, h.value, h.actor, h.expires_at ? `until ${h.expires_at}` : "", h.reason ?? ""]
            .filter(Boolean)
            .join("\t"),
        );
      return;
    }
    if (values.some(containsPanText) || (opts.reason !== undefined && containsPanText(opts.reason)))
      throw new SentinelError(
        "validation_failed",
        "a value looks like a card number; send a token, never a PAN",
      );
    if (opts.expires !== undefined && !(Date.parse(opts.expires) > Date.now()))
      throw new SentinelError("validation_failed", "--expires must be an RFC 3339 time in the future");
    if (action === "remove" && !opts.reason)
      throw new SentinelError("validation_failed", "a removal needs a reason: --reason <text>");
    const entries = values.map((value) => ({ value, expiresAt: opts.expires, reason: opts.reason }));
    const done = await submitFromCli(config, pool, "lists.change", {
      name,
      ...(action === "add" ? { add: entries, remove: [] } : { add: [], remove: values, reason: opts.reason }),
    });
    if (!done) return;
    const n = action === "add" ? done.added : done.removed;
    out(
      `${action === "add" ? "added" : "removed"} ${n} of ${values.length} on ${name} (consumers see it within seconds)`,
    );
  });
}

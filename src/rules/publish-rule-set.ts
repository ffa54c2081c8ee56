import type { Actor } from "../audit/audit-store.ts";
import { SentinelError } from "../errors.ts";
import { type RuleSet, ruleSetVersion } from "./rule-language.ts";
import { listsOf } from "./rule-set-refs.ts";
import type { RulesStore } from "./rules-store.ts";

/**
 * Publishes a validated rule set (POST /rules and `sentinel rules publish` alike). A set naming a
 * list that does not exist is refused: `in_list` on a misspelt list would be silently false
 * (issue 20). Returns its version and whether it was new.
 * @throws SentinelError(validation_failed) naming each unknown list and the rule that names it.
 */
export async function publishRuleSet(
  store: Pick<RulesStore, "publish" | "listNames">,
  ruleSet: RuleSet,
  actor: Actor,
): Promise<{ version: string; created: boolean }> {
  const named = listsOf(ruleSet);
  if (named.size > 0) {
    const known = await store.listNames();
    const issues = [...named]
      .filter(([list]) => !known.has(list))
      .map(([list, rule]) => ({
        path: `rules.${ruleSet.rules.findIndex((r) => r.id === rule)}.when`,
        message: `rule ${rule} names the list ${list}, which does not exist: add its entries first (POST /lists/${list})`,
      }));
    if (issues.length > 0)
      throw new SentinelError("validation_failed", "the rule set names unknown lists", { issues });
  }
  const version = ruleSetVersion(ruleSet);
  return { version, created: await store.publish(version, ruleSet, actor) };
}

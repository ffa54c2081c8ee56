import type { Actor } from "../audit/audit-store.ts";
import { type RuleSet, ruleSetVersion } from "./rule-language.ts";
import type { RulesStore } from "./rules-store.ts";

/** Who `sentinel migrate` acts as in the audit trail and the activation history. */
export const MIGRATE: Actor = { name: "migrate", role: "system" };

/**
 * Publishes the default rule set (the RULES_* of the environment) and activates it while no
 * operator has activated a version of their own — so a fresh install lists the set it decides with
 * (issue 20: decisions carried a version `rules list` did not know). Once an operator activates a
 * version, RULES_* no longer change anything. Returns the version and whether it was activated now.
 */
export async function activateDefaultRuleSet(
  store: Pick<RulesStore, "publish" | "activate" | "activeActivation">,
  ruleSet: RuleSet,
): Promise<{ version: string; activated: boolean }> {
  const version = ruleSetVersion(ruleSet);
  await store.publish(version, ruleSet, MIGRATE);
  const active = await store.activeActivation();
  const ours = active === null || active.activatedBy === `${MIGRATE.role}:${MIGRATE.name}`;
  if (!ours || active?.version === version) return { version, activated: false };
  await store.activate(version, MIGRATE);
  return { version, activated: true };
}

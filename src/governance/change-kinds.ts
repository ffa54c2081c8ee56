import type { Actor } from "../audit/audit-store.ts";
import { SentinelError } from "../errors.ts";
import type { ModelStore } from "../model/model-store.ts";
import type { ListEntryInput } from "../rules/list-store.ts";
import { validateRuleSet } from "../rules/rule-language.ts";
import { diffRuleSets } from "../rules/rule-set-diff.ts";
import type { RulesStore } from "../rules/rules-store.ts";
import type { EntityKind } from "../rules/snooze-store.ts";
import type { EndpointStore } from "../webhooks/endpoint-store.ts";

/*
 * Every change that alters decisions (issue 37), as data: what it is (`kind` and its payload),
 * what it was proposed against (`base`: the active version, an endpoint's state), what it would do
 * (`preview`, a diff for rule sets) and how it is applied. Under four eyes a change waits as a
 * proposal and is applied in its approval's transaction; without, it is applied at once — the
 * same `apply` either way (change-store.ts), so the two paths cannot drift apart.
 */

/** The stores a change is applied with: on the pool, or on the approval's transaction. */
export type ChangeStores = { rules: RulesStore; models: ModelStore; endpoints: EndpointStore };

export type Kind<P> = {
  /** What it acts on, for listings and the audit trail ("rule_set:<version>", "list:blocked_devices"). */
  target(payload: P): string;
  /**
   * What the change is proposed against, read again at approval: a different value there refuses
   * the approval (409). Null: the change commutes with others (a list entry, a snooze).
   * @throws SentinelError(not_found) when what it acts on does not exist.
   */
  base(stores: ChangeStores, payload: P): Promise<string | null>;
  /** What it would do, beyond its payload (GET /changes/:id). */
  preview?(stores: ChangeStores, payload: P): Promise<unknown>;
  /** Makes the change as `actor` (the proposer); what the direct call answers. @throws SentinelError. */
  apply(stores: ChangeStores, payload: P, actor: Actor): Promise<Record<string, unknown>>;
};

type Lifecycle = "rules" | "models";
const storeOf = (s: ChangeStores, of: Lifecycle) => (of === "rules" ? s.rules : s.models);
const noun = (of: Lifecycle) => (of === "rules" ? "rule set" : "model");
const artefact = (of: Lifecycle) => (of === "rules" ? "rule_set" : "model");

async function activeOf(s: ChangeStores, of: Lifecycle): Promise<string | null> {
  return of === "rules" ? (await s.rules.stamp()).version : (await s.models.stamp()).active;
}

function activation(of: Lifecycle): Kind<{ version: string }> {
  return {
    target: (p) => `${artefact(of)}:${p.version}`,
    async base(s, p) {
      if ((await storeOf(s, of).get(p.version)) === null)
        throw new SentinelError("not_found", `unknown ${noun(of)} version ${p.version}: publish it first`);
      return activeOf(s, of);
    },
    async preview(s, p) {
      if (of !== "rules") return { from: await activeOf(s, of), to: p.version };
      const from = await s.rules.active();
      const b = validateRuleSet(await s.rules.get(p.version));
      if (!b.ok) return { from: from?.version ?? null, to: p.version, diff: [] };
      // None active yet: every rule of the proposed set is new.
      const a = from
        ? validateRuleSet(from.document)
        : { ok: true as const, ruleSet: { ...b.ruleSet, rules: [] } };
      return {
        from: from?.version ?? null,
        to: p.version,
        diff: a.ok ? diffRuleSets(a.ruleSet, b.ruleSet) : [],
      };
    },
    async apply(s, p, actor) {
      if (!(await storeOf(s, of).activate(p.version, actor)))
        throw new SentinelError("not_found", `unknown ${noun(of)} version ${p.version}: publish it first`);
      return { active: p.version };
    },
  };
}

function rollback(of: Lifecycle): Kind<Record<string, never>> {
  return {
    target: () => `${artefact(of)}:active`,
    base: (s) => activeOf(s, of),
    async apply(s, _p, actor) {
      if (of === "rules") {
        const version = await s.rules.rollback(actor);
        if (!version) throw new SentinelError("nothing_to_roll_back", "no earlier active version");
        return { active: version };
      }
      const moved = await s.models.rollback(actor);
      if (!moved) throw new SentinelError("nothing_to_roll_back", "no model activation to roll back");
      return { rolled_back: moved.rolledBack, active: moved.active };
    },
  };
}

function shadow(of: Lifecycle): Kind<{ version: string | null }> {
  const shadowOf = async (s: ChangeStores) =>
    of === "rules" ? (await s.rules.stamp()).shadow : (await s.models.stamp()).shadow;
  return {
    target: (p) => `${artefact(of)}:${p.version ?? "shadow"}`,
    async base(s, p) {
      if (p.version !== null && (await storeOf(s, of).get(p.version)) === null)
        throw new SentinelError("not_found", `unknown ${noun(of)} version ${p.version}`);
      return `${await activeOf(s, of)}|${await shadowOf(s)}`;
    },
    async apply(s, p, actor) {
      if (!(await storeOf(s, of).setShadow(p.version, actor)))
        throw new SentinelError("not_found", `unknown ${noun(of)} version ${p.version}`);
      return { shadow: p.version };
    },
  };
}

export type ListChangePayload = { name: string; add: ListEntryInput[]; remove: string[]; reason?: string };
export type SnoozePayload = { rule: string; kind: EntityKind; id: string; until: string; reason: string };

const endpointBase = async (s: ChangeStores, id: string) => {
  const endpoint = await s.endpoints.get(id);
  if (!endpoint) throw new SentinelError("not_found", "unknown webhook endpoint");
  return JSON.stringify(endpoint);
};

/** The kinds of change, by name (the `kind` column and the route that makes each one). */
export const CHANGE_KINDS = {
  "rules.activate": activation("rules"),
  "rules.rollback": rollback("rules"),
  "rules.shadow": shadow("rules"),
  "model.activate": activation("models"),
  "model.rollback": rollback("models"),
  "model.shadow": shadow("models"),
  "lists.change": {
    target: (p) => `list:${p.name}`,
    base: async () => null,
    async apply(s, p, actor) {
      const added = p.add.length > 0 ? await s.rules.addToList(p.name, p.add, actor) : 0;
      const removed =
        p.remove.length > 0 ? await s.rules.removeFromList(p.name, p.remove, p.reason!, actor) : 0;
      return { name: p.name, added, removed };
    },
  } satisfies Kind<ListChangePayload>,
  "snooze.create": {
    target: (p) => `${p.kind}:${p.id}`,
    base: async () => null,
    async apply(s, p, actor) {
      if (Date.parse(p.until) <= Date.now())
        throw new SentinelError("validation_failed", `the snooze would have ended at ${p.until}`);
      return s.rules.snooze(p, actor);
    },
  } satisfies Kind<SnoozePayload>,
  "snooze.remove": {
    target: (p) => `snooze:${p.id}`,
    async base(s, p) {
      if (!(await s.rules.snoozeActive(p.id)))
        throw new SentinelError("not_found", "no active snooze with this id");
      return null;
    },
    async apply(s, p, actor) {
      const removed = await s.rules.unsnooze(p.id, p.reason, actor);
      if (!removed) throw new SentinelError("not_found", "no active snooze with this id");
      return removed;
    },
  } satisfies Kind<{ id: string; reason: string }>,
  "webhooks.create": {
    target: (p) => `webhook:${p.input.url}`,
    base: async () => null,
    async apply(s, p, actor) {
      const { endpoint, secret } = await s.endpoints.create(p.input, actor);
      return { ...endpoint, secret };
    },
  } satisfies Kind<{ input: Parameters<EndpointStore["create"]>[0] }>,
  "webhooks.update": {
    target: (p) => `webhook:${p.id}`,
    base: (s, p) => endpointBase(s, p.id),
    async apply(s, p, actor) {
      const changed = await s.endpoints.update(p.id, p.patch, actor);
      if (!changed) throw new SentinelError("not_found", "unknown webhook endpoint");
      return changed;
    },
  } satisfies Kind<{ id: string; patch: Parameters<EndpointStore["update"]>[1] }>,
  "webhooks.delete": {
    target: (p) => `webhook:${p.id}`,
    base: (s, p) => endpointBase(s, p.id),
    async apply(s, p, actor) {
      if (!(await s.endpoints.remove(p.id, actor)))
        throw new SentinelError("not_found", "unknown webhook endpoint");
      return { deleted: p.id };
    },
  } satisfies Kind<{ id: string }>,
} as const;

export type ChangeKind = keyof typeof CHANGE_KINDS;
export type PayloadOf<K extends ChangeKind> = Parameters<(typeof CHANGE_KINDS)[K]["apply"]>[1];
/** Changes an analyst may propose and a supervisor may approve (besides admins). */
export const SUPERVISED_KINDS: readonly ChangeKind[] = ["snooze.create", "snooze.remove"];

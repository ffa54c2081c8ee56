import { sql } from "slonik";
import { z } from "zod";
import { type ArtefactKind, createArtefactStore } from "../artefacts/artefact-store.ts";
import type { Actor } from "../audit/audit-store.ts";
import { withDbErrors } from "../store/db-errors.ts";
import type { DatabasePool } from "../store/pool.ts";
import { recordEvent } from "../webhooks/event-outbox.ts";
import { createListStore } from "./list-store.ts";
import { createSnoozeStore } from "./snooze-store.ts";

/*
 * Rule set versions, their activations and shadow — the lifecycle rule sets share with models
 * (src/artefacts/artefact-store.ts) — and the named lists (list-store.ts). An activation (or a
 * rollback) writes a `rules.activated` webhook event in its transaction. Every method throws
 * SentinelError.
 */

export type { ShadowMove } from "../artefacts/artefact-store.ts";

export type RuleSetVersionInfo = {
  version: string;
  published_at: string;
  active: boolean;
  last_activated_at: string | null;
};

/** The rule sets' kind of artefact. */
export const RULE_SETS: ArtefactKind = {
  kind: "rule_set",
  audit: "rules",
  saveVerb: "publish",
  rollbackToNone: false,
  async onActivated(t, { version, previous, actor, rollback }) {
    await recordEvent(t, "rules.activated", version, {
      version,
      previous,
      activated_by: actor.name,
      ...(rollback ? { rollback: true } : {}),
    });
  },
};

export type RulesStore = ReturnType<typeof createRulesStore>;

export function createRulesStore({ pool }: { pool: DatabasePool }) {
  const ruleSets = createArtefactStore(pool, RULE_SETS);
  return {
    ...createListStore({ pool }),
    ...createSnoozeStore({ pool }),

    /** Stores a version (a no-op when it exists: same id, same document). Returns whether it was new. */
    publish: (version: string, document: unknown, actor: Actor): Promise<boolean> =>
      ruleSets.save(version, document, actor),

    async list(): Promise<readonly RuleSetVersionInfo[]> {
      return (await ruleSets.list()).map(({ version, published_at, active, last_activated_at }) => ({
        version,
        published_at,
        active,
        last_activated_at,
      }));
    },

    get: ruleSets.get,
    /** The active version and its document, or null while none was ever activated. */
    active: ruleSets.active,
    activeActivation: ruleSets.activeActivation,
    /** Makes `version` the active one; false when it is not published. */
    activate: ruleSets.activate,

    /**
     * Undoes the latest activation not undone yet: the version active before it is active again.
     * Its version, or null when no earlier activation is left (the only one is never undone).
     */
    async rollback(actor: Actor): Promise<string | null> {
      return (await ruleSets.rollback(actor))?.active ?? null;
    },

    /** Starts shadowing `version` (null stops it); false when the version is not published. */
    setShadow: ruleSets.setShadow,
    shadow: ruleSets.shadow,

    /** How the shadow's decisions differ from the live ones since it started. */
    compareShadow: () => ruleSets.compareShadow((version) => sql.fragment`s.rules_version = ${version}`),

    /** What consumers poll: the active version, the lists' change counter and the shadow, in one query. */
    async stamp(): Promise<{ version: string | null; lists: number; shadow: string | null }> {
      return withDbErrors("rules stamp", () =>
        pool.one(sql.type(
          z.object({ version: z.string().nullable(), lists: z.number(), shadow: z.string().nullable() }),
        )`
          SELECT ${ruleSets.activeVersion} AS version, (SELECT version FROM rule_lists_version)::int8 AS lists,
                 ${ruleSets.shadowVersion} AS shadow`),
      );
    },
  };
}

import { sql } from "slonik";
import { z } from "zod";
import { type Actor, withAudit } from "../audit/audit-store.ts";
import { type ShadowMove, shadowMoves } from "../rules/rules-store.ts";
import { withDbErrors } from "../store/db-errors.ts";
import type { DatabasePool } from "../store/pool.ts";
import { ISO_UTC } from "../store/sql-time.ts";
import type { ModelDocument } from "./model.ts";

/*
 * Model versions (immutable, content-addressed), the activation history and the shadow (issue 24),
 * like the rule sets' (src/rules/rules-store.ts). Every change is audited in its transaction.
 * Every method throws SentinelError.
 */

const ACTIVE = sql.fragment`(SELECT version FROM model_activations WHERE rolled_back_at IS NULL
  ORDER BY activation_id DESC LIMIT 1)`;

const ModelRow = z.object({
  version: z.string(),
  trained_at: z.string(),
  summary: z.record(z.string(), z.unknown()),
  active: z.boolean(),
  shadow: z.boolean(),
});
export type ModelInfo = z.output<typeof ModelRow>;

export type ModelStore = ReturnType<typeof createModelStore>;

export function createModelStore({ pool }: { pool: DatabasePool }) {
  return {
    /** Stores a version (a no-op when it exists). Returns whether it was new. */
    async save(version: string, doc: ModelDocument, summary: object, actor: Actor): Promise<boolean> {
      return withAudit(pool, "save model", actor, async (t, audit) => {
        const rows = await t.anyFirst(sql.type(z.object({ version: z.string() }))`
          INSERT INTO models (version, document, summary)
          VALUES (${version}, ${JSON.stringify(doc)}::jsonb, ${JSON.stringify(summary)}::jsonb)
          ON CONFLICT (version) DO NOTHING RETURNING version`);
        if (rows.length > 0) audit.push({ action: "model.train", target: version, after: summary });
        return rows.length > 0;
      });
    },

    async list(): Promise<readonly ModelInfo[]> {
      return withDbErrors("list models", () =>
        pool.any(sql.type(ModelRow)`
          SELECT m.version, to_char(m.trained_at AT TIME ZONE 'UTC', ${ISO_UTC}) AS trained_at, m.summary,
                 m.version IS NOT DISTINCT FROM ${ACTIVE} AS active,
                 m.version IS NOT DISTINCT FROM (SELECT version FROM model_shadow) AS shadow
          FROM models m ORDER BY m.trained_at DESC, m.version`),
      );
    },

    async get(version: string): Promise<unknown | null> {
      const doc = await withDbErrors("get model", () =>
        pool.maybeOneFirst(sql.type(z.object({ document: z.unknown() }))`
          SELECT document FROM models WHERE version = ${version}`),
      );
      return doc ?? null;
    },

    async info(version: string): Promise<ModelInfo | null> {
      return (await this.list()).find((m) => m.version === version) ?? null;
    },

    /** The active version and the shadow's, in one query (what consumers poll, beside the rules'). */
    async stamp(): Promise<{ active: string | null; shadow: string | null }> {
      return withDbErrors("model stamp", () =>
        pool.one(sql.type(z.object({ active: z.string().nullable(), shadow: z.string().nullable() }))`
          SELECT ${ACTIVE} AS active, (SELECT version FROM model_shadow) AS shadow`),
      );
    },

    /** Makes `version` the active model; false when it is not stored. */
    async activate(version: string, actor: Actor): Promise<boolean> {
      return withAudit(pool, "activate model", actor, async (t, audit) => {
        const before = await t.oneFirst(
          sql.type(z.object({ v: z.string().nullable() }))`SELECT ${ACTIVE} AS v`,
        );
        const rows = await t.anyFirst(sql.type(z.object({ version: z.string() }))`
          INSERT INTO model_activations (version, activated_by)
          SELECT version, ${`${actor.role}:${actor.name}`} FROM models WHERE version = ${version}
          RETURNING version`);
        if (rows.length > 0)
          audit.push({
            action: "model.activate",
            target: version,
            before: { active: before },
            after: { active: version },
          });
        return rows.length > 0;
      });
    },

    /**
     * Undoes the latest activation not undone yet: the model active before it is active again, or
     * none (`{ active: null }`) when it was the first. Null when there is nothing to roll back.
     */
    async rollback(actor: Actor): Promise<{ rolledBack: string; active: string | null } | null> {
      return withAudit(pool, "roll back model", actor, async (t, audit) => {
        const current = await t.maybeOne(sql.type(
          z.object({ activation_id: z.number(), version: z.string() }),
        )`
          SELECT activation_id, version FROM model_activations WHERE rolled_back_at IS NULL
          ORDER BY activation_id DESC LIMIT 1 FOR UPDATE`);
        if (!current) return null;
        await t.query(sql.unsafe`
          UPDATE model_activations SET rolled_back_at = now() WHERE activation_id = ${current.activation_id}`);
        const active = await t.oneFirst(
          sql.type(z.object({ v: z.string().nullable() }))`SELECT ${ACTIVE} AS v`,
        );
        audit.push({
          action: "model.rollback",
          target: current.version,
          before: { active: current.version },
          after: { active },
        });
        return { rolledBack: current.version, active };
      });
    },

    /** Starts shadowing `version` (null stops it); false when the version is not stored. */
    async setShadow(version: string | null, actor: Actor): Promise<boolean> {
      return withAudit(pool, "set model shadow", actor, async (t, audit) => {
        const before = await t.oneFirst(sql.type(z.object({ version: z.string().nullable() }))`
          SELECT version FROM model_shadow FOR UPDATE`);
        const rows = await t.anyFirst(sql.type(z.object({ id: z.boolean() }))`
          UPDATE model_shadow SET version = ${version},
                 started_at = CASE WHEN ${version}::text IS NULL THEN NULL ELSE now() END
          WHERE ${version}::text IS NULL OR EXISTS (SELECT 1 FROM models WHERE version = ${version})
          RETURNING id`);
        if (rows.length > 0)
          audit.push({
            action: "model.shadow",
            target: version ?? before ?? "(none)",
            before: { shadow: before },
            after: { shadow: version },
          });
        return rows.length > 0;
      });
    },

    /**
     * How the shadow model's decisions (stored under `<rule set>+<model>`) differ from the live
     * ones since it started: moves with counts and up to five examples each.
     */
    async compareShadow(): Promise<{
      version: string | null;
      compared: number;
      moves: ShadowMove[];
    }> {
      const version = (await this.stamp()).shadow;
      if (!version) return { version, compared: 0, moves: [] };
      const moves = await shadowMoves(
        pool,
        sql.fragment`s.rules_version LIKE ${`%+${version}`}`,
        sql.fragment`(SELECT started_at FROM model_shadow)`,
      );
      return { version, ...moves };
    },
  };
}

import { type FragmentSqlToken, sql } from "slonik";
import { z } from "zod";
import { type Actor, withAudit } from "../audit/audit-store.ts";
import { withDbErrors } from "../store/db-errors.ts";
import type { DatabasePool } from "../store/pool.ts";
import { ISO_UTC } from "../store/sql-time.ts";
import { recordEvent } from "../webhooks/event-outbox.ts";
import { createListStore } from "./list-store.ts";

/*
 * Rule set versions (immutable, content-addressed: the caller computes the version from the
 * document), the activation history, the shadow, and the named lists (list-store.ts). Every method
 * throws SentinelError.
 */

const VersionRow = z.object({
  version: z.string(),
  published_at: z.string(),
  active: z.boolean(),
  last_activated_at: z.string().nullable(),
});
export type RuleSetVersionInfo = z.output<typeof VersionRow>;

export type RulesStore = ReturnType<typeof createRulesStore>;

export function createRulesStore({ pool }: { pool: DatabasePool }) {
  return { ...createRuleSetStore(pool), ...createShadowStore(pool), ...createListStore({ pool }) };
}

/** Versions, activations and the shadow. */
function createRuleSetStore(pool: DatabasePool) {
  // The active version: the latest activation not rolled back (a rollback undoes one activation).
  const active = sql.fragment`(SELECT version FROM rule_set_activations WHERE rolled_back_at IS NULL
    ORDER BY activation_id DESC LIMIT 1)`;
  return {
    /** Stores a version (a no-op when it exists: same id, same document). Returns whether it was new. */
    async publish(version: string, document: unknown, actor: Actor): Promise<boolean> {
      return withAudit(pool, "publish rule set", actor, async (t, audit) => {
        const rows = await t.anyFirst(sql.type(z.object({ version: z.string() }))`
          INSERT INTO rule_sets (version, document) VALUES (${version}, ${JSON.stringify(document)}::jsonb)
          ON CONFLICT (version) DO NOTHING RETURNING version`);
        const created = rows.length > 0;
        if (created) audit.push({ action: "rules.publish", target: version, after: document });
        return created;
      });
    },

    async list(): Promise<readonly RuleSetVersionInfo[]> {
      return withDbErrors("list rule sets", () =>
        pool.any(sql.type(VersionRow)`
          SELECT r.version, to_char(r.published_at AT TIME ZONE 'UTC', ${ISO_UTC}) AS published_at,
                 r.version = ${active} AS active,
                 (SELECT to_char(max(a.activated_at) AT TIME ZONE 'UTC', ${ISO_UTC})
                  FROM rule_set_activations a WHERE a.version = r.version) AS last_activated_at
          FROM rule_sets r ORDER BY r.published_at DESC, r.version`),
      );
    },

    async get(version: string): Promise<unknown | null> {
      const row = await withDbErrors("get rule set", () =>
        pool.maybeOneFirst(sql.type(z.object({ document: z.unknown() }))`
          SELECT document FROM rule_sets WHERE version = ${version}`),
      );
      return row ?? null;
    },

    /** The active version and its document, or null while none was ever activated. */
    async active(): Promise<{ version: string; document: unknown } | null> {
      return withDbErrors("active rule set", () =>
        pool.maybeOne(sql.type(z.object({ version: z.string(), document: z.unknown() }))`
          SELECT r.version, r.document FROM rule_sets r WHERE r.version = ${active}`),
      );
    },

    /** Makes `version` the active one; false when it is not published. */
    async activate(version: string, actor: Actor): Promise<boolean> {
      return withAudit(pool, "activate rule set", actor, async (t, audit) => {
        const before = await t.maybeOneFirst(
          sql.type(z.object({ version: z.string().nullable() }))`SELECT ${active} AS version`,
        );
        const rows = await t.anyFirst(sql.type(z.object({ version: z.string() }))`
          INSERT INTO rule_set_activations (version, activated_by)
          SELECT version, ${`${actor.role}:${actor.name}`} FROM rule_sets WHERE version = ${version} RETURNING version`);
        const done = rows.length > 0;
        if (done) {
          audit.push({
            action: "rules.activate",
            target: version,
            before: { active: before },
            after: { active: version },
          });
          await recordEvent(t, "rules.activated", version, {
            version,
            previous: before,
            activated_by: actor.name,
          });
        }
        return done;
      });
    },

    /**
     * Undoes the latest activation not undone yet: the version active before it is active again.
     * Two rollbacks walk two activations back (they never flip between two versions). Its version,
     * or null when no earlier activation is left.
     */
    async rollback(actor: Actor): Promise<string | null> {
      return withAudit(pool, "roll back rule set", actor, async (t, audit) => {
        const current = await t.maybeOne(sql.type(
          z.object({ activation_id: z.number(), version: z.string() }),
        )`
          SELECT activation_id, version FROM rule_set_activations WHERE rolled_back_at IS NULL
          ORDER BY activation_id DESC LIMIT 1 FOR UPDATE`);
        if (!current) return null;
        const previous = await t.maybeOneFirst(sql.type(z.object({ version: z.string() }))`
          SELECT version FROM rule_set_activations
          WHERE rolled_back_at IS NULL AND activation_id < ${current.activation_id}
          ORDER BY activation_id DESC LIMIT 1`);
        if (previous === null) return null;
        await t.query(sql.unsafe`
          UPDATE rule_set_activations SET rolled_back_at = now() WHERE activation_id = ${current.activation_id}`);
        audit.push({
          action: "rules.rollback",
          target: current.version,
          before: { active: current.version },
          after: { active: previous },
        });
        await recordEvent(t, "rules.activated", previous, {
          version: previous,
          previous: current.version,
          activated_by: actor.name,
          rollback: true,
        });
        return previous;
      });
    },

    /** The active version and who activated it ("role:name"), or null while none is. */
    async activeActivation(): Promise<{ version: string; activatedBy: string | null } | null> {
      const row = await withDbErrors("active activation", () =>
        pool.maybeOne(sql.type(z.object({ version: z.string(), activated_by: z.string().nullable() }))`
          SELECT version, activated_by FROM rule_set_activations WHERE rolled_back_at IS NULL
          ORDER BY activation_id DESC LIMIT 1`),
      );
      return row ? { version: row.version, activatedBy: row.activated_by } : null;
    },

    /** What consumers poll: the active version, the lists' change counter and the shadow, in one query. */
    async stamp(): Promise<{ version: string | null; lists: number; shadow: string | null }> {
      return withDbErrors("rules stamp", () =>
        pool.one(sql.type(
          z.object({ version: z.string().nullable(), lists: z.number(), shadow: z.string().nullable() }),
        )`
          SELECT ${active} AS version, (SELECT version FROM rule_lists_version)::int8 AS lists,
                 (SELECT version FROM rule_set_shadow) AS shadow`),
      );
    },
  };
}

/** A move of the shadow's decisions from the live ones: how many, and up to five examples. */
export type ShadowMove = { from: string; to: string; count: number; examples: string[] };

/**
 * How the shadow decisions matching `which` (stored since `since`) moved from the live ones: how
 * many were decided both ways, and per (live, shadow) pair that differs, how many with up to five
 * example transactions. The rule set shadow and the model shadow (src/model/model-store.ts) both
 * ask this.
 */
export async function shadowMoves(
  pool: DatabasePool,
  which: FragmentSqlToken,
  since: FragmentSqlToken,
): Promise<{ compared: number; moves: ShadowMove[] }> {
  const rows = await withDbErrors("compare shadow", () =>
    pool.any(sql.type(
      z.object({ from: z.string(), to: z.string(), count: z.number(), examples: z.array(z.string()) }),
    )`
      SELECT l.decision AS from, s.decision AS to, count(*)::int AS count,
             (array_agg(l.transaction_id::text ORDER BY l.transaction_id))[1:5] AS examples
      FROM decisions s JOIN decisions l ON l.transaction_id = s.transaction_id AND l.live
      WHERE NOT s.live AND ${which} AND s.decided_at >= ${since}
      GROUP BY l.decision, s.decision ORDER BY count DESC`),
  );
  return { compared: rows.reduce((n, r) => n + r.count, 0), moves: rows.filter((r) => r.from !== r.to) };
}

/** The shadow: a version deciding beside the live one, stored not published, and how it compares. */
function createShadowStore(pool: DatabasePool) {
  return {
    /** Starts shadowing `version` (null stops it); false when the version is not published. */
    async setShadow(version: string | null, actor: Actor): Promise<boolean> {
      return withAudit(pool, "set shadow", actor, async (t, audit) => {
        const before = await t.oneFirst(sql.type(z.object({ version: z.string().nullable() }))`
          SELECT version FROM rule_set_shadow FOR UPDATE`);
        const rows = await t.anyFirst(sql.type(z.object({ id: z.boolean() }))`
          UPDATE rule_set_shadow SET version = ${version}, started_at = CASE WHEN ${version}::text IS NULL THEN NULL ELSE now() END
          WHERE ${version}::text IS NULL OR EXISTS (SELECT 1 FROM rule_sets WHERE version = ${version})
          RETURNING id`);
        const done = rows.length > 0;
        if (done) {
          audit.push({
            action: "rules.shadow",
            target: version ?? before ?? "(none)",
            before: { shadow: before },
            after: { shadow: version },
          });
        }
        return done;
      });
    },

    async shadow(): Promise<{ version: string | null; startedAt: string | null }> {
      const row = await withDbErrors("shadow", () =>
        pool.one(sql.type(z.object({ version: z.string().nullable(), started_at: z.string().nullable() }))`
          SELECT version, to_char(started_at AT TIME ZONE 'UTC', ${ISO_UTC}) AS started_at FROM rule_set_shadow`),
      );
      return { version: row.version, startedAt: row.started_at };
    },

    /**
     * How the shadow's decisions differ from the live ones since it started: moves with counts and
     * up to five example transactions each.
     */
    async compareShadow(): Promise<{
      version: string | null;
      startedAt: string | null;
      compared: number;
      moves: ShadowMove[];
    }> {
      const { version, startedAt } = await this.shadow();
      if (!version) return { version, startedAt, compared: 0, moves: [] };
      const moves = await shadowMoves(
        pool,
        sql.fragment`s.rules_version = ${version}`,
        sql.fragment`(SELECT started_at FROM rule_set_shadow)`,
      );
      return { version, startedAt, ...moves };
    },
  };
}

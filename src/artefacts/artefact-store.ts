import { type DatabaseTransactionConnection, type FragmentSqlToken, sql } from "slonik";
import { z } from "zod";
import { type Actor, withAudit } from "../audit/audit-store.ts";
import { withDbErrors } from "../store/db-errors.ts";
import type { DatabasePool } from "../store/pool.ts";
import { ISO_UTC } from "../store/sql-time.ts";

/*
 * The lifecycle rule sets and models share (issue 33; migration 015): immutable, content-addressed
 * versions of a kind (the caller computes the version from the document), the activation history
 * (the active version is the latest activation not rolled back; a rollback undoes one activation,
 * so two rollbacks walk two steps back), and one shadow per kind (a version deciding beside the
 * live one). Every change is audited in its transaction. What differs between kinds is said by
 * the kind: its audit names, whether a rollback may leave none active, what else an activation
 * writes in its transaction. Every method throws SentinelError.
 */

export type ArtefactKind = {
  /** The `kind` column: 'rule_set' | 'model'. */
  kind: "rule_set" | "model";
  /** Audit actions are `<audit>.<verb>` ("rules.activate", "model.shadow"). */
  audit: string;
  /** The verb storing a version is audited as ("publish" for rule sets, "train" for models). */
  saveVerb: string;
  /** Whether rolling back the first activation leaves none active (models) or is refused (rule sets). */
  rollbackToNone: boolean;
  /** Called in an activation's (or a rollback's) transaction: an outbox event, say. */
  onActivated?(
    t: DatabaseTransactionConnection,
    change: { version: string; previous: string | null; actor: Actor; rollback: boolean },
  ): Promise<void>;
};

const VersionRow = z.object({
  version: z.string(),
  published_at: z.string(),
  summary: z.record(z.string(), z.unknown()).nullable(),
  active: z.boolean(),
  shadow: z.boolean(),
  last_activated_at: z.string().nullable(),
});
export type ArtefactInfo = z.output<typeof VersionRow>;

/** A move of the shadow's decisions from the live ones: how many, and up to five examples. */
export type ShadowMove = { from: string; to: string; count: number; examples: string[] };

export type ArtefactStore = ReturnType<typeof createArtefactStore>;

export function createArtefactStore(pool: DatabasePool, spec: ArtefactKind) {
  const { kind } = spec;
  const active = sql.fragment`(SELECT version FROM artefact_activations
    WHERE kind = ${kind} AND rolled_back_at IS NULL ORDER BY activation_id DESC LIMIT 1)`;
  const shadowVersion = sql.fragment`(SELECT version FROM artefact_shadows WHERE kind = ${kind})`;
  const action = (verb: string) => `${spec.audit}.${verb}`;
  const Version = sql.type(z.object({ version: z.string().nullable() }));

  return {
    ...createShadowStore(pool, spec),
    /** The active version, as a fragment (the rules' stamp reads it beside the lists'). */
    activeVersion: active,
    shadowVersion,

    /** Stores a version (a no-op when it exists: same id, same document). Returns whether it was new. */
    async save(version: string, document: unknown, actor: Actor, summary?: object): Promise<boolean> {
      return withAudit(pool, `${spec.saveVerb} ${kind}`, actor, async (t, audit) => {
        const rows = await t.anyFirst(sql.type(z.object({ version: z.string() }))`
          INSERT INTO artefacts (kind, version, document, summary)
          VALUES (${kind}, ${version}, ${JSON.stringify(document)}::jsonb,
                  ${summary === undefined ? null : JSON.stringify(summary)}::jsonb)
          ON CONFLICT (kind, version) DO NOTHING RETURNING version`);
        const created = rows.length > 0;
        if (created)
          audit.push({ action: action(spec.saveVerb), target: version, after: summary ?? document });
        return created;
      });
    },

    /** Every version, newest first. */
    async list(): Promise<readonly ArtefactInfo[]> {
      return withDbErrors(`list ${kind}s`, () =>
        pool.any(sql.type(VersionRow)`
          SELECT a.version, to_char(a.published_at AT TIME ZONE 'UTC', ${ISO_UTC}) AS published_at,
                 a.summary, a.version IS NOT DISTINCT FROM ${active} AS active,
                 a.version IS NOT DISTINCT FROM ${shadowVersion} AS shadow,
                 (SELECT to_char(max(x.activated_at) AT TIME ZONE 'UTC', ${ISO_UTC})
                  FROM artefact_activations x WHERE x.kind = a.kind AND x.version = a.version) AS last_activated_at
          FROM artefacts a WHERE a.kind = ${kind} ORDER BY a.published_at DESC, a.version`),
      );
    },

    /** A version's document, or null when it is not stored. */
    async get(version: string): Promise<unknown | null> {
      const row = await withDbErrors(`get ${kind}`, () =>
        pool.maybeOneFirst(sql.type(z.object({ document: z.unknown() }))`
          SELECT document FROM artefacts WHERE kind = ${kind} AND version = ${version}`),
      );
      return row ?? null;
    },

    /** The active version and its document, or null while none is. */
    async active(): Promise<{ version: string; document: unknown } | null> {
      return withDbErrors(`active ${kind}`, () =>
        pool.maybeOne(sql.type(z.object({ version: z.string(), document: z.unknown() }))`
          SELECT version, document FROM artefacts WHERE kind = ${kind} AND version = ${active}`),
      );
    },

    /** The active version and who activated it ("role:name"), or null while none is. */
    async activeActivation(): Promise<{ version: string; activatedBy: string | null } | null> {
      const row = await withDbErrors(`active ${kind} activation`, () =>
        pool.maybeOne(sql.type(z.object({ version: z.string(), activated_by: z.string().nullable() }))`
          SELECT version, activated_by FROM artefact_activations
          WHERE kind = ${kind} AND rolled_back_at IS NULL ORDER BY activation_id DESC LIMIT 1`),
      );
      return row ? { version: row.version, activatedBy: row.activated_by } : null;
    },

    /** Makes `version` the active one; false when it is not stored. */
    async activate(version: string, actor: Actor): Promise<boolean> {
      return withAudit(pool, `activate ${kind}`, actor, async (t, audit) => {
        const previous = await t.oneFirst(Version`SELECT ${active} AS version`);
        const rows = await t.anyFirst(sql.type(z.object({ version: z.string() }))`
          INSERT INTO artefact_activations (kind, version, activated_by)
          SELECT kind, version, ${`${actor.role}:${actor.name}`} FROM artefacts
          WHERE kind = ${kind} AND version = ${version} RETURNING version`);
        if (rows.length === 0) return false;
        audit.push({
          action: action("activate"),
          target: version,
          before: { active: previous },
          after: { active: version },
        });
        await spec.onActivated?.(t, { version, previous, actor, rollback: false });
        return true;
      });
    },

    /**
     * Undoes the latest activation not undone yet: the version active before it is active again
     * (none, for a kind that allows it). Null when there is nothing to roll back.
     */
    async rollback(actor: Actor): Promise<{ rolledBack: string; active: string | null } | null> {
      return withAudit(pool, `roll back ${kind}`, actor, async (t, audit) => {
        const current = await t.maybeOne(sql.type(
          z.object({ activation_id: z.number(), version: z.string() }),
        )`
          SELECT activation_id, version FROM artefact_activations
          WHERE kind = ${kind} AND rolled_back_at IS NULL ORDER BY activation_id DESC LIMIT 1 FOR UPDATE`);
        if (!current) return null;
        const previous = await t.maybeOneFirst(sql.type(z.object({ version: z.string() }))`
          SELECT version FROM artefact_activations
          WHERE kind = ${kind} AND rolled_back_at IS NULL AND activation_id < ${current.activation_id}
          ORDER BY activation_id DESC LIMIT 1`);
        if (previous === null && !spec.rollbackToNone) return null;
        await t.query(sql.unsafe`
          UPDATE artefact_activations SET rolled_back_at = now() WHERE activation_id = ${current.activation_id}`);
        audit.push({
          action: action("rollback"),
          target: current.version,
          before: { active: current.version },
          after: { active: previous },
        });
        if (previous !== null) {
          await spec.onActivated?.(t, {
            version: previous,
            previous: current.version,
            actor,
            rollback: true,
          });
        }
        return { rolledBack: current.version, active: previous };
      });
    },
  };
}

/** The kind's shadow: a version deciding beside the live one, and how it compares. */
function createShadowStore(pool: DatabasePool, { kind, audit: prefix }: ArtefactKind) {
  const Version = sql.type(z.object({ version: z.string().nullable() }));
  /** The shadow version and since when, or nulls while none. */
  async function shadow(): Promise<{ version: string | null; startedAt: string | null }> {
    const row = await withDbErrors(`${kind} shadow`, () =>
      pool.one(sql.type(z.object({ version: z.string().nullable(), started_at: z.string().nullable() }))`
        SELECT version, to_char(started_at AT TIME ZONE 'UTC', ${ISO_UTC}) AS started_at
        FROM artefact_shadows WHERE kind = ${kind}`),
    );
    return { version: row.version, startedAt: row.started_at };
  }

  return {
    shadow,

    /** Starts shadowing `version` (null stops it); false when the version is not stored. */
    async setShadow(version: string | null, actor: Actor): Promise<boolean> {
      return withAudit(pool, `set ${kind} shadow`, actor, async (t, audit) => {
        const before = await t.oneFirst(Version`
          SELECT version FROM artefact_shadows WHERE kind = ${kind} FOR UPDATE`);
        const rows = await t.anyFirst(sql.type(z.object({ kind: z.string() }))`
          UPDATE artefact_shadows SET version = ${version},
                 started_at = CASE WHEN ${version}::text IS NULL THEN NULL ELSE now() END
          WHERE kind = ${kind} AND (${version}::text IS NULL
                OR EXISTS (SELECT 1 FROM artefacts WHERE kind = ${kind} AND version = ${version}))
          RETURNING kind`);
        if (rows.length === 0) return false;
        audit.push({
          action: `${prefix}.shadow`,
          target: version ?? before ?? "(none)",
          before: { shadow: before },
          after: { shadow: version },
        });
        return true;
      });
    },

    /**
     * How the shadow's decisions (those `which` selects, given the shadow's version) differ from
     * the live ones since it started: moves with counts and up to five example transactions each.
     */
    async compareShadow(which: (version: string) => FragmentSqlToken): Promise<{
      version: string | null;
      startedAt: string | null;
      compared: number;
      moves: ShadowMove[];
    }> {
      const { version, startedAt } = await shadow();
      if (!version) return { version, startedAt, compared: 0, moves: [] };
      const rows = await withDbErrors("compare shadow", () =>
        pool.any(sql.type(
          z.object({ from: z.string(), to: z.string(), count: z.number(), examples: z.array(z.string()) }),
        )`
          SELECT l.decision AS from, s.decision AS to, count(*)::int AS count,
                 (array_agg(l.transaction_id::text ORDER BY l.transaction_id))[1:5] AS examples
          FROM decisions s JOIN decisions l ON l.transaction_id = s.transaction_id AND l.live
          WHERE NOT s.live AND ${which(version)}
            AND s.decided_at >= (SELECT started_at FROM artefact_shadows WHERE kind = ${kind})
          GROUP BY l.decision, s.decision ORDER BY count DESC`),
      );
      return {
        version,
        startedAt,
        compared: rows.reduce((n, r) => n + r.count, 0),
        moves: rows.filter((r) => r.from !== r.to),
      };
    },
  };
}

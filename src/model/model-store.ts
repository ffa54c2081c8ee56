import { sql } from "slonik";
import { z } from "zod";
import { type ArtefactKind, createArtefactStore, type ShadowMove } from "../artefacts/artefact-store.ts";
import type { Actor } from "../audit/audit-store.ts";
import { SentinelError } from "../errors.ts";
import { withDbErrors } from "../store/db-errors.ts";
import type { DatabasePool } from "../store/pool.ts";
import { isoUtc } from "../store/sql-time.ts";
import { DRIFT_THRESHOLD } from "./drift.ts";
import { type ModelDocument, validateModel } from "./model.ts";

/*
 * Model versions, their activations and shadow (issue 24): the lifecycle models share with rule
 * sets (src/artefacts/artefact-store.ts). A model's version carries its training summary; a
 * rollback of the first activation leaves no model active. Every method throws SentinelError.
 */

export type ModelInfo = {
  version: string;
  trained_at: string;
  summary: Record<string, unknown>;
  active: boolean;
  shadow: boolean;
};

/** The models' kind of artefact. */
export const MODELS: ArtefactKind = {
  kind: "model",
  audit: "model",
  saveVerb: "train",
  rollbackToNone: true,
};

const DriftRow = z.object({
  version: z.string(),
  measured_at: z.string(),
  sampled_rows: z.number(),
  score_psi: z.number(),
  worst_feature: z.string(),
  worst_psi: z.number(),
});
export type ModelDrift = Omit<z.output<typeof DriftRow>, "version"> & { drifted: boolean };

export type ModelStore = ReturnType<typeof createModelStore>;

export function createModelStore({ pool }: { pool: DatabasePool }) {
  const models = createArtefactStore(pool, MODELS);
  const list = async (): Promise<readonly ModelInfo[]> =>
    (await models.list()).map(({ version, published_at, summary, active, shadow }) => ({
      version,
      trained_at: published_at,
      summary: summary ?? {},
      active,
      shadow,
    }));
  return {
    /** Stores a version (a no-op when it exists). Returns whether it was new. */
    /** @throws SentinelError validation_failed when the document is not a valid model (issue 35). */
    save: (version: string, doc: ModelDocument, summary: object, actor: Actor): Promise<boolean> => {
      const valid = validateModel(doc);
      if (!valid.ok) {
        return Promise.reject(
          new SentinelError("validation_failed", "not a valid model", { issues: valid.issues }),
        );
      }
      return models.save(version, doc, actor, summary);
    },
    list,
    get: models.get,
    /** Each version's latest drift measure (issue 36), by version. */
    async drift(): Promise<Map<string, ModelDrift>> {
      const rows = await withDbErrors("model drift", () =>
        pool.any(sql.type(DriftRow)`
          SELECT version, ${isoUtc("measured_at")} AS measured_at, sampled_rows, score_psi::float8 AS score_psi,
                 worst_feature, worst_psi::float8 AS worst_psi FROM model_drift`),
      );
      return new Map(
        rows.map(({ version, ...d }) => [
          version,
          { ...d, drifted: Math.max(d.score_psi, d.worst_psi) > DRIFT_THRESHOLD },
        ]),
      );
    },
    async info(version: string): Promise<ModelInfo | null> {
      return (await list()).find((m) => m.version === version) ?? null;
    },

    /** The active version and the shadow's, in one query (what consumers poll, beside the rules'). */
    async stamp(): Promise<{ active: string | null; shadow: string | null }> {
      return withDbErrors("model stamp", () =>
        pool.one(sql.type(z.object({ active: z.string().nullable(), shadow: z.string().nullable() }))`
          SELECT ${models.activeVersion} AS active, ${models.shadowVersion} AS shadow`),
      );
    },

    /** Makes `version` the active model; false when it is not stored. */
    activate: models.activate,
    /**
     * Undoes the latest activation not undone yet: the model active before it is active again, or
     * none (`{ active: null }`) when it was the first. Null when there is nothing to roll back.
     */
    rollback: models.rollback,
    /** Starts shadowing `version` (null stops it); false when the version is not stored. */
    setShadow: models.setShadow,

    /**
     * How the shadow model's decisions (stored under `<rule set>+<model>`) differ from the live
     * ones since it started: moves with counts and up to five examples each.
     */
    async compareShadow(): Promise<{ version: string | null; compared: number; moves: ShadowMove[] }> {
      const { version, compared, moves } = await models.compareShadow(
        (v) => sql.fragment`s.rules_version LIKE ${`%+${v}`}`,
      );
      return { version, compared, moves };
    },
  };
}

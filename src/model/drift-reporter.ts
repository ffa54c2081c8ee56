import { sql } from "slonik";
import type { Logger } from "../logger.ts";
import { getOrSet } from "../maps.ts";
import type { Metrics } from "../metrics.ts";
import type { DatabasePool } from "../store/pool.ts";
import { createDriftMonitor, DRIFT_THRESHOLD, type DriftMonitor, type Reference } from "./drift.ts";

/*
 * A consumer's drift reports (issue 36, drift.ts): one monitor per model version it scores with
 * (the active one, a shadow); every interval, each one's PSI as metrics
 * (`sentinel_model_psi{version, feature}`, `feature="score"` for the score), a warning when one
 * crosses 0.25, and the figures upserted into `model_drift` for `sentinel model list`.
 */

export type DriftReporter = {
  /** The monitor of a version (created on first use). */
  monitor(version: string, reference: Reference): DriftMonitor;
  /** No more reports (a consumer stopping). */
  stop(): void;
};

export function startDriftReporter({
  pool,
  metrics,
  logger,
  intervalMs,
}: {
  pool: DatabasePool;
  metrics: Metrics;
  logger: Logger;
  intervalMs: number;
}): DriftReporter {
  const monitors = new Map<string, DriftMonitor>();
  const drifted = new Set<string>();
  async function report(): Promise<void> {
    for (const [version, m] of monitors) {
      const s = m.snapshot();
      if (s.rows === 0) continue;
      metrics.model.psi.set({ version, feature: "score" }, s.score);
      for (const [feature, v] of Object.entries(s.features)) metrics.model.psi.set({ version, feature }, v);
      const worst = Math.max(s.score, s.worst.psi);
      if (worst > DRIFT_THRESHOLD && !drifted.has(version)) {
        drifted.add(version);
        logger.warn(
          { version, scorePsi: s.score, worst: s.worst },
          "model drift: live data no longer looks like its training data",
        );
      } else if (worst <= DRIFT_THRESHOLD) drifted.delete(version);
      await pool.query(sql.unsafe`
        INSERT INTO model_drift (version, measured_at, sampled_rows, score_psi, worst_feature, worst_psi, features)
        VALUES (${version}, now(), ${s.rows}, ${s.score}, ${s.worst.feature}, ${s.worst.psi}, ${JSON.stringify(s.features)}::jsonb)
        ON CONFLICT (version) DO UPDATE SET measured_at = now(), sampled_rows = EXCLUDED.sampled_rows,
          score_psi = EXCLUDED.score_psi, worst_feature = EXCLUDED.worst_feature, worst_psi = EXCLUDED.worst_psi,
          features = EXCLUDED.features`);
    }
  }
  const timer =
    intervalMs > 0
      ? setInterval(() => {
          report().catch((error: Error) => logger.debug({ err: error.message }, "drift report not written"));
        }, intervalMs).unref()
      : undefined;
  return {
    monitor: (version, reference) => getOrSet(monitors, version, () => createDriftMonitor(reference)),
    stop: () => clearInterval(timer),
  };
}

-- Drift (issue 36): the latest measure of each model a consumer scores with — the population
-- stability index of its score and of each feature, live against the training rows' reference —
-- written by the consumers every MODEL_DRIFT_INTERVAL_SECONDS (the last writer's sample wins) and
-- read by `sentinel model list`. One row per version: a few hundred bytes.
CREATE TABLE model_drift (
  version       text PRIMARY KEY,
  measured_at   timestamptz NOT NULL DEFAULT now(),
  sampled_rows  integer NOT NULL,
  score_psi     real NOT NULL,
  worst_feature text NOT NULL,
  worst_psi     real NOT NULL,
  features      jsonb NOT NULL
);

-- Learned models (issue 24): immutable, content-addressed versions like rule sets; the activation
-- history (the latest activation not rolled back is the active model; none: no model) and the
-- shadow (a model scoring beside the active one, its decisions stored, never published).
CREATE TABLE models (
  version    text PRIMARY KEY CHECK (version ~ '^mdl-[0-9a-f]{12}$'),
  document   jsonb NOT NULL,
  summary    jsonb NOT NULL,
  trained_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE model_activations (
  activation_id  bigserial PRIMARY KEY,
  version        text NOT NULL REFERENCES models (version),
  activated_at   timestamptz NOT NULL DEFAULT now(),
  activated_by   text,
  rolled_back_at timestamptz
);

CREATE TABLE model_shadow (
  id         boolean PRIMARY KEY DEFAULT true CHECK (id),
  version    text REFERENCES models (version),
  started_at timestamptz
);
INSERT INTO model_shadow (id, version, started_at) VALUES (true, NULL, NULL);

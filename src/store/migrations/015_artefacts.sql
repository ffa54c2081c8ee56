-- One versioned-artefact lifecycle for rule sets and models (issue 33): immutable,
-- content-addressed versions of a kind, the activation history (the latest activation not rolled
-- back is the active version) and one shadow per kind. Replaces rule_sets / rule_set_activations /
-- rule_set_shadow (005, 007, 010, 011) and models / model_activations / model_shadow (014), whose
-- rows move here unchanged (activations keep their order within a kind).
CREATE TABLE artefacts (
  kind         text NOT NULL CHECK (kind IN ('rule_set', 'model')),
  version      text NOT NULL,
  document     jsonb NOT NULL,
  summary      jsonb,
  published_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, version),
  CHECK (kind <> 'model' OR version ~ '^mdl-[0-9a-f]{12}$')
);

CREATE TABLE artefact_activations (
  activation_id  bigserial PRIMARY KEY,
  kind           text NOT NULL,
  version        text NOT NULL,
  activated_at   timestamptz NOT NULL DEFAULT now(),
  activated_by   text,
  rolled_back_at timestamptz,
  FOREIGN KEY (kind, version) REFERENCES artefacts (kind, version)
);
CREATE INDEX artefact_activations_live ON artefact_activations (kind, activation_id DESC)
  WHERE rolled_back_at IS NULL;

-- A version deciding beside the live one (its decisions stored, never published); NULL: none.
CREATE TABLE artefact_shadows (
  kind       text PRIMARY KEY CHECK (kind IN ('rule_set', 'model')),
  version    text,
  started_at timestamptz,
  FOREIGN KEY (kind, version) REFERENCES artefacts (kind, version)
);

INSERT INTO artefacts (kind, version, document, summary, published_at)
  SELECT 'rule_set', version, document, NULL, published_at FROM rule_sets;
INSERT INTO artefacts (kind, version, document, summary, published_at)
  SELECT 'model', version, document, summary, trained_at FROM models;
INSERT INTO artefact_activations (kind, version, activated_at, activated_by, rolled_back_at)
  SELECT kind, version, activated_at, activated_by, rolled_back_at FROM (
    SELECT 'rule_set' AS kind, activation_id, version, activated_at, activated_by, rolled_back_at
      FROM rule_set_activations
    UNION ALL
    SELECT 'model', activation_id, version, activated_at, activated_by, rolled_back_at
      FROM model_activations
  ) a ORDER BY kind, activation_id;
INSERT INTO artefact_shadows (kind, version, started_at)
  SELECT 'rule_set', version, started_at FROM rule_set_shadow
  UNION ALL
  SELECT 'model', version, started_at FROM model_shadow;

DROP TABLE rule_set_shadow, rule_set_activations, rule_sets, model_shadow, model_activations, models;

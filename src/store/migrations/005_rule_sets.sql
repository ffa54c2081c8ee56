-- Rules as data (issue 13): immutable, content-addressed rule set versions; the activation history
-- (the latest row is the active version; a rollback activates the one before); named lists.
CREATE TABLE rule_sets (
  version      text PRIMARY KEY,
  document     jsonb NOT NULL,
  published_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rule_set_activations (
  activation_id bigserial PRIMARY KEY,
  version       text NOT NULL REFERENCES rule_sets (version),
  activated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rule_lists (
  name     text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,63}$'),
  value    text NOT NULL,
  added_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, value)
);
-- Every change to any list bumps this, so consumers notice a removal as well as an addition.
CREATE TABLE rule_lists_version (id boolean PRIMARY KEY DEFAULT true CHECK (id), version bigint NOT NULL);
INSERT INTO rule_lists_version VALUES (true, 0);

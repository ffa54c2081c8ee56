-- Shadow (issue 13): one rule set version decides every new transaction beside the live one; its
-- decisions are stored with live = false under its version and never published.
CREATE TABLE rule_set_shadow (
  id         boolean PRIMARY KEY DEFAULT true CHECK (id),
  version    text REFERENCES rule_sets (version),
  started_at timestamptz
);
INSERT INTO rule_set_shadow (id, version, started_at) VALUES (true, NULL, NULL);

-- Per-entity snoozes (issue 37): an analyst silences one rule for one user, device or merchant
-- until a time, with a reason ("this user travels: no impossible-travel flag for two weeks"). The
-- scorer honours a snooze for the transactions received while it holds (from its creation to its
-- end), and says so in the decision's reasons. A removal keeps the row (who, when, why).
CREATE TABLE snoozes (
  snooze_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  rule          text NOT NULL CHECK (rule ~ '^[A-Za-z0-9_.-]{1,64}$'),
  entity_kind   text NOT NULL CHECK (entity_kind IN ('user', 'device', 'merchant')),
  entity_id     text NOT NULL CHECK (length(entity_id) BETWEEN 1 AND 256),
  created_at    timestamptz NOT NULL DEFAULT now(),
  until         timestamptz NOT NULL,
  reason        text NOT NULL,
  created_by    text NOT NULL,
  removed_at    timestamptz,
  removed_by    text,
  remove_reason text,
  CHECK (until > created_at)
);
CREATE INDEX snoozes_active ON snoozes (until) WHERE removed_at IS NULL;
CREATE INDEX snoozes_entity ON snoozes (entity_kind, entity_id) WHERE removed_at IS NULL;

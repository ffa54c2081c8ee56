-- Issue 20. The audit trail: who did what, when, with the state before and after, written in the
-- same transaction as the change. Append-only: a trigger refuses UPDATE and DELETE (TRUNCATE too).
CREATE TABLE audit_log (
  audit_id   bigserial PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  actor      text NOT NULL,
  role       text NOT NULL,
  action     text NOT NULL,
  target     text NOT NULL,
  before     jsonb,
  after      jsonb
);
CREATE INDEX audit_log_at ON audit_log (at DESC, audit_id DESC);
CREATE INDEX audit_log_actor ON audit_log (actor, audit_id DESC);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- A rollback undoes the latest activation that is not undone yet: the active version is the latest
-- activation not rolled back, so two rollbacks walk two steps back instead of flipping between two.
ALTER TABLE rule_set_activations ADD COLUMN rolled_back_at timestamptz;

-- Labels are published on transactions.labels from this outbox, at least once: a label committed
-- with its case is published even if the broker was away when it was resolved.
CREATE TABLE label_outbox (
  label_id     bigint PRIMARY KEY REFERENCES labels (label_id),
  published_at timestamptz
);
CREATE INDEX label_outbox_pending ON label_outbox (label_id) WHERE published_at IS NULL;

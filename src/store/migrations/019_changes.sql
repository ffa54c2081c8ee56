-- Four eyes (issue 37): with APPROVALS_REQUIRED=true every change that alters decisions (rule set
-- and model activations, rollbacks and shadows, list entries, snoozes, webhook endpoints) is first
-- a proposal; another person approves it (it is then applied in the approval's transaction) or
-- rejects it. `base` is what the change was proposed against (the active version, say): a proposal
-- whose base moved meanwhile is refused at approval, never applied over it. A pending proposal
-- past expires_at is expired (read as such; never applied). Rows are kept (who, when, why).
CREATE TABLE changes (
  change_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind          text NOT NULL CHECK (kind ~ '^[a-z_]+\.[a-z_]+$'),
  target        text NOT NULL,
  payload       jsonb NOT NULL,
  base          text,
  proposed_by   text NOT NULL,
  proposed_role text NOT NULL,
  proposed_at   timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
  decided_by    text,
  decided_role  text,
  decided_at    timestamptz,
  reason        text,
  result        jsonb,
  CHECK (expires_at > proposed_at),
  CHECK ((status = 'pending') = (decided_at IS NULL))
);
CREATE INDEX changes_pending ON changes (proposed_at DESC) WHERE status = 'pending';
CREATE INDEX changes_proposed_at ON changes (proposed_at DESC);

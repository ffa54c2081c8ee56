-- The analyst's side (issue 14): a case for every transaction decided `review` (opened in the same
-- statement that stores the transaction, so exactly once under redelivery and replay), and labels
-- (every label kept; the latest per transaction wins).

CREATE TABLE cases (
  case_id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  transaction_id uuid NOT NULL UNIQUE REFERENCES transactions (transaction_id) ON DELETE CASCADE,
  user_id        text NOT NULL,
  status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'claimed', 'resolved')),
  assignee       text,
  label          text CHECK (label IN ('fraud', 'legitimate')),
  note           text,
  opened_at      timestamptz NOT NULL DEFAULT now(),
  claimed_at     timestamptz,
  resolved_at    timestamptz,
  -- a sequence for newest-first cursors that never ties
  seq            bigserial NOT NULL UNIQUE
);
CREATE INDEX cases_status_seq ON cases (status, seq DESC);
CREATE INDEX cases_user_seq ON cases (user_id, seq DESC);

CREATE TABLE labels (
  label_id       bigserial PRIMARY KEY,
  transaction_id uuid NOT NULL REFERENCES transactions (transaction_id) ON DELETE CASCADE,
  label          text NOT NULL CHECK (label IN ('fraud', 'legitimate')),
  source         text NOT NULL CHECK (source IN ('chargeback', 'analyst', 'customer')),
  note           text,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX labels_transaction ON labels (transaction_id, label_id DESC);

-- Lists with expiry, reasons and history (issue 37): each entry says who added it, why, and until
-- when it matches (at the transaction's time: the broker's receipt, the rules' clock; NULL: for
-- ever). Every addition and removal is kept in rule_list_history, with its reason; a removal
-- needs one.
ALTER TABLE rule_lists ADD COLUMN expires_at timestamptz;
ALTER TABLE rule_lists ADD COLUMN reason text;
ALTER TABLE rule_lists ADD COLUMN added_by text;

CREATE TABLE rule_list_history (
  id         bigserial PRIMARY KEY,
  name       text NOT NULL,
  value      text NOT NULL,
  action     text NOT NULL CHECK (action IN ('add', 'remove')),
  expires_at timestamptz,
  reason     text,
  actor      text NOT NULL,
  at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rule_list_history_name ON rule_list_history (name, id DESC);

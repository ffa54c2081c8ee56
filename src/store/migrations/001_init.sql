-- SentinelStream schema v1. Money is NUMERIC (exact, law 6); no card number is ever stored (law 7).

CREATE TABLE user_profiles (
  user_id               text PRIMARY KEY CHECK (user_id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
  status                text NOT NULL CHECK (status IN ('active', 'blocked')),
  risk_tier             text NOT NULL CHECK (risk_tier IN ('low', 'medium', 'high')),
  home_country          char(2) NOT NULL,
  currency              char(3) NOT NULL,
  per_transaction_limit numeric NOT NULL CHECK (per_transaction_limit >= 0),
  daily_limit           numeric NOT NULL CHECK (daily_limit >= 0),
  -- grows on every write; the cache refuses to replace a newer copy with an older one
  version               bigint NOT NULL DEFAULT 1,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);

-- One row per transaction_id, ever (law 2). The unconstrained NUMERIC keeps the amount exactly as sent.
CREATE TABLE transactions (
  transaction_id    uuid PRIMARY KEY,
  user_id           text NOT NULL,
  amount            numeric NOT NULL CHECK (amount > 0 AND scale(amount) <= 4),
  currency          char(3) NOT NULL,
  event_time        timestamptz NOT NULL,
  merchant_id       text,
  merchant_category char(4),
  country           char(2),
  channel           text,
  device_id         text,
  ip                inet,
  metadata          jsonb,
  -- where the message was first read: history rules count only what came earlier in the topic
  source_partition  integer NOT NULL,
  source_offset     bigint NOT NULL,
  stored_at         timestamptz NOT NULL DEFAULT now()
);

-- The history rules read a user's recent transactions.
CREATE INDEX transactions_user_time ON transactions (user_id, event_time)
  INCLUDE (amount, currency, source_partition, source_offset);

-- A transaction has exactly one live decision; re-decided ones sit beside it under their rules_version.
CREATE TABLE decisions (
  transaction_id uuid NOT NULL REFERENCES transactions (transaction_id) ON DELETE CASCADE,
  rules_version  text NOT NULL,
  live           boolean NOT NULL DEFAULT true,
  decision       text NOT NULL CHECK (decision IN ('approve', 'review', 'decline')),
  score          smallint NOT NULL CHECK (score BETWEEN 0 AND 100),
  reasons        text[] NOT NULL,
  decided_at     timestamptz NOT NULL,
  PRIMARY KEY (transaction_id, rules_version)
);
CREATE UNIQUE INDEX decisions_one_live ON decisions (transaction_id) WHERE live;

-- Bounded storage (issue 34): transactions and their decisions live in weekly partitions of the
-- time the broker received the transaction (received_at, the history rules' clock). Retention drops
-- whole partitions (sentinel_drop_partitions), never long DELETEs. PostgreSQL has no index unique
-- across partitions, so each partition has its own unique transaction_id (created with it): a
-- redelivered or replayed message carries the same received_at as its first copy and meets it in
-- the same partition (ON CONFLICT), and the store looks an id up in the other partitions before
-- inserting it (src/store/store-decided.ts). The per-partition unique index also tells the planner
-- that an id matches one row, so that lookup is an index probe even before ANALYZE. Rows stored
-- before this migration stay in a partition of their own (FROM MINVALUE), with their keys, dropped
-- whole once all of it is past retention.

-- Partitions are dropped whole: nothing may hold a foreign key to them.
ALTER TABLE decisions DROP CONSTRAINT IF EXISTS decisions_transaction_id_fkey;
ALTER TABLE labels DROP CONSTRAINT IF EXISTS labels_transaction_id_fkey;

-- Which partitions exist, with their bounds (lower NULL: MINVALUE), for creation and retention.
CREATE TABLE storage_partitions (
  partition   text PRIMARY KEY,
  table_name  text NOT NULL CHECK (table_name IN ('transactions', 'decisions')),
  lower_bound timestamptz,
  upper_bound timestamptz NOT NULL
);

ALTER TABLE transactions RENAME TO transactions_legacy;
ALTER INDEX transactions_user_received RENAME TO transactions_legacy_user_received;
CREATE TABLE transactions (LIKE transactions_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
  PARTITION BY RANGE (received_at);
CREATE INDEX transactions_user_received ON transactions (user_id, received_at)
  INCLUDE (amount, currency, source_partition, source_offset, country, device_id, merchant_id,
           merchant_category, channel, ip);

-- A decision is kept with its transaction: partitioned by the transaction's received_at.
ALTER TABLE decisions RENAME TO decisions_legacy;
ALTER TABLE decisions_legacy ADD COLUMN received_at timestamptz;
UPDATE decisions_legacy d SET received_at = t.received_at
  FROM transactions_legacy t WHERE t.transaction_id = d.transaction_id;
DELETE FROM decisions_legacy WHERE received_at IS NULL;
ALTER TABLE decisions_legacy ALTER COLUMN received_at SET NOT NULL;
ALTER INDEX decisions_live_decided_at RENAME TO decisions_legacy_live_decided_at;
CREATE TABLE decisions (LIKE decisions_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
  PARTITION BY RANGE (received_at);
CREATE INDEX decisions_live_decided_at ON decisions (decided_at) WHERE live;

-- The rows from before: one partition each, up to the week after the last of them (or dropped
-- when there are none).
DO $$
DECLARE
  last timestamptz := (SELECT max(received_at) FROM transactions_legacy);
  bound timestamptz;
BEGIN
  IF last IS NULL THEN
    DROP TABLE transactions_legacy;
    DROP TABLE decisions_legacy;
  ELSE
    bound := date_trunc('week', last, 'UTC') + interval '1 week';
    EXECUTE format('ALTER TABLE transactions ATTACH PARTITION transactions_legacy FOR VALUES FROM (MINVALUE) TO (%L)', bound);
    EXECUTE format('ALTER TABLE decisions ATTACH PARTITION decisions_legacy FOR VALUES FROM (MINVALUE) TO (%L)', bound);
    INSERT INTO storage_partitions VALUES ('transactions_legacy', 'transactions', NULL, bound),
                                          ('decisions_legacy', 'decisions', NULL, bound);
  END IF;
END $$;

-- Creates the weekly partitions (Monday 00:00 UTC) of both tables that cover [from_at, to_at] and
-- do not exist yet. SECURITY DEFINER: the runtime role, which owns nothing, may call it (the
-- scorer does for a week it has not seen) but cannot create tables itself.
CREATE FUNCTION sentinel_ensure_partitions(from_at timestamptz, to_at timestamptz) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  w timestamptz := date_trunc('week', from_at, 'UTC');
  t text;
  p text;
  created int := 0;
BEGIN
  IF to_at - from_at > interval '3 years' THEN
    RAISE EXCEPTION 'sentinel_ensure_partitions: at most three years at once';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('sentinel_partitions'));
  WHILE w <= to_at LOOP
    FOREACH t IN ARRAY ARRAY['transactions', 'decisions'] LOOP
      p := t || '_p' || to_char(w AT TIME ZONE 'UTC', 'YYYYMMDD');
      IF NOT EXISTS (
        SELECT 1 FROM storage_partitions s
        WHERE s.table_name = t AND coalesce(s.lower_bound, '-infinity') < w + interval '1 week'
          AND s.upper_bound > w
      ) THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                       p, t, w, w + interval '1 week');
        -- The keys, per partition (the parent cannot hold a key without received_at in it).
        IF t = 'transactions' THEN
          EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (transaction_id)', p);
        ELSE
          EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (transaction_id, rules_version)', p);
          EXECUTE format('CREATE UNIQUE INDEX %I ON %I (transaction_id) WHERE live', p || '_one_live', p);
        END IF;
        INSERT INTO storage_partitions VALUES (p, t, w, w + interval '1 week');
        created := created + 1;
      END IF;
    END LOOP;
    w := w + interval '1 week';
  END LOOP;
  RETURN created;
END $$;

-- Drops, whole, the partitions of both tables whose every row was received before `cutoff`.
CREATE FUNCTION sentinel_drop_partitions(cutoff timestamptz) RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  r record;
  dropped text[] := '{}';
BEGIN
  -- The runtime role may call this: it cannot wipe what is recent, whatever cutoff it passes.
  IF cutoff > now() - interval '7 days' THEN
    RAISE EXCEPTION 'sentinel_drop_partitions: the cutoff must be at least 7 days ago' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('sentinel_partitions'));
  FOR r IN SELECT partition FROM storage_partitions WHERE upper_bound <= cutoff ORDER BY upper_bound, partition LOOP
    EXECUTE format('DROP TABLE IF EXISTS %I', r.partition);
    DELETE FROM storage_partitions WHERE partition = r.partition;
    dropped := dropped || r.partition;
  END LOOP;
  RETURN dropped;
END $$;

REVOKE ALL ON FUNCTION sentinel_ensure_partitions(timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION sentinel_drop_partitions(timestamptz) FROM PUBLIC;

SELECT sentinel_ensure_partitions(now() - interval '1 week', now() + interval '1 week');

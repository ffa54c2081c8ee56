-- A new week's partitions without an exclusive lock on the tables (issue 38). `CREATE TABLE …
-- PARTITION OF` takes an ACCESS EXCLUSIVE lock on the parent: the retention job creating the
-- weeks ahead (hourly, the first time a minute after start) deadlocked with the scorer's reads,
-- which lock `decisions` then `transactions` while the creation locked `transactions` then
-- `decisions` — PostgreSQL broke the tie after deadlock_timeout (1 s), and the sync answers of
-- that second waited (`npm run bench:e2e`: 8,095 of 10,020 decided within the second at
-- 2,000 tx/s, SQLSTATE 40P01 in the server's log). The partition is now created alone, its keys
-- added while nobody can see it, then attached: ATTACH PARTITION takes only a SHARE UPDATE
-- EXCLUSIVE lock on the parent, which reads and writes do not wait for (PostgreSQL ≥ 12). The
-- parent's indexes are built on the empty table as it is attached.
CREATE OR REPLACE FUNCTION sentinel_ensure_partitions(from_at timestamptz, to_at timestamptz) RETURNS int
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
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', p, t);
        -- The keys, per partition (the parent cannot hold a key without received_at in it).
        IF t = 'transactions' THEN
          EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (transaction_id)', p);
        ELSE
          EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (transaction_id, rules_version)', p);
          EXECUTE format('CREATE UNIQUE INDEX %I ON %I (transaction_id) WHERE live', p || '_one_live', p);
        END IF;
        -- The range as a constraint first: the attach then skips its scan (an empty table anyway).
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (received_at >= %L AND received_at < %L)',
                       p, p || '_range', w, w + interval '1 week');
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       t, p, w, w + interval '1 week');
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', p, p || '_range');
        INSERT INTO storage_partitions VALUES (p, t, w, w + interval '1 week');
        created := created + 1;
      END IF;
    END LOOP;
    w := w + interval '1 week';
  END LOOP;
  RETURN created;
END $$;

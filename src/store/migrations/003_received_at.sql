-- The history rules' clock is the message's Kafka timestamp (when it was received), not the
-- client-chosen event time: a client cannot move its transactions out of a window (issue 11).
-- Rows stored before this migration take their event time, the clock they were decided with.
ALTER TABLE transactions ADD COLUMN received_at timestamptz;
UPDATE transactions SET received_at = event_time WHERE received_at IS NULL;
ALTER TABLE transactions ALTER COLUMN received_at SET NOT NULL;

DROP INDEX IF EXISTS transactions_user_time;
CREATE INDEX transactions_user_received ON transactions (user_id, received_at)
  INCLUDE (amount, currency, source_partition, source_offset);

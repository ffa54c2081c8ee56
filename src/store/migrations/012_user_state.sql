-- Per-user state for the rules' aggregates (issue 21): a round reads a bounded number of rows per
-- user and window, however long the user's history. Written in the statement that stores the
-- transactions (law 2: the state and the rows never disagree after a crash); the transactions
-- table stays the record, and replay --redecide still reads rows. docs/rules.md#aggregates says
-- how each aggregate is read from here.

-- Number and total amount of a user's transactions per currency, per UTC minute, hour and day of
-- their Kafka timestamp (grain in seconds; bucket = floor(received ms / grain ms)).
CREATE TABLE user_buckets (
  user_id text NOT NULL,
  grain int4 NOT NULL CHECK (grain IN (60, 3600, 86400)),
  bucket int8 NOT NULL,
  currency text NOT NULL,
  n int8 NOT NULL,
  total numeric NOT NULL,
  PRIMARY KEY (user_id, grain, bucket, currency)
);

-- The last time (received ms) each value of an aggregated field was seen for a user.
CREATE TABLE user_values (
  user_id text NOT NULL,
  field text NOT NULL,
  value text NOT NULL,
  last_ms int8 NOT NULL,
  PRIMARY KEY (user_id, field, value)
);
CREATE INDEX user_values_recent ON user_values (user_id, field, last_ms DESC);

-- Where a user's stored transactions were read, and how many: the state stands for "everything
-- earlier in the topic" only while every stored one sits in one partition below the offsets being
-- decided. A user has state (buckets, values) once it has more than a few hundred transactions
-- (state_ready, set by buildUserState in one transaction that locks this row first); the others
-- are read from their rows, which are few.
CREATE TABLE user_positions (
  user_id text PRIMARY KEY,
  source_partition int4 NOT NULL,
  max_offset int8 NOT NULL,
  mixed boolean NOT NULL DEFAULT false,
  n int8 NOT NULL,
  state_ready boolean NOT NULL DEFAULT false
);

-- What is stored already: positions for every user. The state of a user past 256 transactions is
-- built by the consumer the first time a round meets it (buildUserState), as for any user.
INSERT INTO user_positions (user_id, source_partition, max_offset, mixed, n)
SELECT user_id, min(source_partition), max(source_offset), min(source_partition) <> max(source_partition),
       count(*)
FROM transactions GROUP BY user_id;

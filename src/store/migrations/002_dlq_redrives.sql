-- What `sentinel dlq redrive` moved back to `transactions`, one row per dead letter, keyed by where the
-- message was read when it failed; a second redrive skips what is recorded here (issue 5).
CREATE TABLE dlq_redrives (
  source_topic     text NOT NULL,
  source_partition integer NOT NULL,
  source_offset    bigint NOT NULL,
  dlq_partition    integer NOT NULL,
  dlq_offset       bigint NOT NULL,
  reason           text NOT NULL,
  redriven_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source_topic, source_partition, source_offset)
);

-- The rules' aggregates count fields of a user's earlier transactions (distinct devices, merchants,
-- countries): the history index carries them too, so a round's history stays an index-only read.
DROP INDEX IF EXISTS transactions_user_received;
CREATE INDEX transactions_user_received ON transactions (user_id, received_at)
  INCLUDE (amount, currency, source_partition, source_offset, country, device_id, merchant_id,
           merchant_category, channel, ip);

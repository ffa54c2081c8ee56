import { sql } from "slonik";
import { z } from "zod";
import type { Decision } from "../domain/decision.ts";
import type { SourcedTransaction } from "../domain/transaction.ts";
import { withDbErrors } from "./db-errors.ts";
import { ensurePartitions } from "./partitions.ts";
import type { DatabasePool } from "./pool.ts";
import { addBuckets, addValues } from "./user-state-store.ts";

/**
 * Stores transactions and their live decisions in one statement, opens a case for each one decided
 * `review`, and adds what it inserted to its users' positions and, for the users that have one,
 * their state (addBuckets, addValues), so the state never disagrees with the rows. Rows whose
 * transaction_id is already stored are left untouched, and so are their decisions and the state;
 * returns the ids this call inserted, so the caller can republish the stored decision for the others.
 */
export async function storeDecided(
  pool: DatabasePool,
  items: ReadonlyArray<{ source: SourcedTransaction; decision: Decision }>,
): Promise<Set<string>> {
  if (items.length === 0) return new Set();
  // One JSON document per round, unpacked by json_to_recordset: one string parameter instead of
  // fourteen 2,000-element arrays for node-postgres to escape (it showed in the profile), bound
  // as plain text rather than sql.json (whose character scan showed too); PostgreSQL parses
  // the amounts from their decimal text, exactly. A named statement, as every statement of a
  // round: PostgreSQL parses it once per connection and plans it at every execution (pool.ts);
  // for a round of 25 that took its CPU from 132–156 to 86–112 µs per transaction.
  const rows = items.map(({ source: { tx, eventTimeMs, receivedMs, partition, offset }, decision: d }) => ({
    id: tx.transaction_id,
    u: tx.user_id,
    a: tx.amount,
    c: tx.currency,
    ts: new Date(eventTimeMs).toISOString(),
    rc: new Date(receivedMs).toISOString(),
    ms: receivedMs,
    m: tx.merchant_id,
    mc: tx.merchant_category,
    co: tx.country,
    ch: tx.channel,
    dv: tx.device_id,
    ip: tx.ip,
    md: tx.metadata,
    p: partition,
    o: offset,
    v: d.rules_version,
    dec: d.decision,
    s: d.score,
    r: d.reasons,
    at: d.decided_at,
  }));
  await ensurePartitions(
    pool,
    items.map((i) => i.source.receivedMs),
  );
  const inserted = await withDbErrors("store batch", () =>
    pool.anyFirst(sql.prepared("sentinel_store_decided", z.object({ transaction_id: z.string() }))`
      WITH rows AS (
        SELECT * FROM json_to_recordset(${JSON.stringify(rows)}::json) AS r(id uuid, u text, a numeric, c text,
          ts timestamptz, rc timestamptz, ms int8, m text, mc text, co text, ch text, dv text, ip inet, md jsonb, p int4, o int8,
          v text, dec text, s int2, r text[], at timestamptz)
      ), seen AS (
        -- An id stored before may sit in another week's partition (a second message with the
        -- same id): one row per transaction_id across them (migration 016). Each partition's
        -- own key catches the rest, redeliveries included (ON CONFLICT).
        SELECT transaction_id FROM transactions WHERE transaction_id = ANY((SELECT array_agg(id) FROM rows)::uuid[])
      ), tx AS (
        INSERT INTO transactions (transaction_id, user_id, amount, currency, event_time, received_at,
          merchant_id, merchant_category, country, channel, device_id, ip, metadata, source_partition,
          source_offset)
        SELECT id, u, a, c, ts, rc, m, mc, co, ch, dv, ip, md, p, o FROM rows
        WHERE id NOT IN (SELECT transaction_id FROM seen)
        ON CONFLICT DO NOTHING
        RETURNING transaction_id
      ), d AS (
        INSERT INTO decisions (transaction_id, rules_version, live, decision, score, reasons, decided_at,
          received_at)
        SELECT id, v, true, dec, s, r, at, rc FROM rows
        WHERE id IN (SELECT transaction_id FROM tx)
      ), c AS (
        -- A case for every review, opened with the transaction: exactly once, however often the
        -- message is delivered or replayed.
        INSERT INTO cases (transaction_id, user_id, opened_at)
        SELECT id, u, at FROM rows
        WHERE dec = 'review' AND id IN (SELECT transaction_id FROM tx)
        ON CONFLICT (transaction_id) DO NOTHING
      ), new AS (
        SELECT * FROM rows WHERE id IN (SELECT transaction_id FROM tx)
      ), pos AS (
        -- Where each user's transactions were read, and how many (migration 012), in key order so
        -- that two statements never wait on each other's rows in opposite orders. The row lock
        -- also orders this statement against buildUserState: state_ready is read after it.
        INSERT INTO user_positions (user_id, source_partition, max_offset, mixed, n)
        SELECT u, min(p), max(o), min(p) <> max(p), count(*) FROM new GROUP BY u ORDER BY u
        ON CONFLICT (user_id) DO UPDATE SET
          max_offset = greatest(user_positions.max_offset, excluded.max_offset),
          mixed = user_positions.mixed OR excluded.mixed
            OR user_positions.source_partition <> excluded.source_partition,
          n = user_positions.n + excluded.n
        RETURNING user_id, state_ready
      ), src AS (
        -- The state of the users that have one (past a few hundred transactions).
        SELECT u, ms, a, c, co, dv, m, mc, ch, host(ip) AS ip FROM new
        WHERE u IN (SELECT user_id FROM pos WHERE state_ready)
      ), b AS (${addBuckets(sql.fragment`src`)}
      ), v AS (${addValues(sql.fragment`src`)}
      )
      SELECT transaction_id::text FROM tx`),
  );
  return new Set(inserted);
}

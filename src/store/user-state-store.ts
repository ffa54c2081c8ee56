import { type FragmentSqlToken, sql } from "slonik";
import { z } from "zod";
import { DISTINCT_CAP } from "../rules/history.ts";
import type { AggField } from "../rules/rule-language.ts";
import { emptyStoredState, type Grain, type StoredState } from "../rules/user-state.ts";
import { STATE_AFTER, type StateRequest } from "../rules/user-state-request.ts";
import { withDbErrors } from "./db-errors.ts";
import type { DatabasePool } from "./pool.ts";

/*
 * Every part is a LATERAL subquery kept apart by OFFSET 0 (PostgreSQL's documented fence against
 * pulling a subquery up), so it is an index scan per user and range: pulled up into a join, the
 * planner hashed the whole table for a user that owns most of it (42 ms at 100,000 rows).
 *
 * Reads the per-user state of a round's users (migration 012, written by storeDecided in the
 * statement that stores the transactions): one query, whatever the number of users, returning a
 * bounded number of rows per user and window (src/consumer/user-state.ts says which).
 */

const StateRow = z.object({
  kind: z.enum(["p", "b", "e", "v", "r"]),
  user_id: z.string(),
  a: z.string().nullable(),
  b: z.string().nullable(),
  x: z.number().nullable(),
  y: z.number().nullable(),
  z: z.number().nullable(),
});

/** A user's position as a row of kind 'p' (the same text in both statements: they are named). */
const POSITION_ROW = sql.fragment`'p' AS kind, p.user_id, p.state_ready::text AS a, p.n::text AS b,
  p.source_partition::int8 AS x, p.max_offset AS y, p.mixed::int4::int8 AS z`;

/** The parts of a state request, as the five-part statement unpacks them. */
function stateDocument(request: StateRequest): string {
  return JSON.stringify({
    b: request.buckets.map((r) => ({ u: r.userId, g: r.grain, lo: r.lo, hi: r.hi })),
    e: request.edges.map((r) => ({ u: r.userId, lo: r.fromMs, hi: r.toMs })),
    r: request.recentValues.map((r) => ({ u: r.userId, f: r.field, lo: r.fromMs })),
    v: request.values.map((r) => ({ u: r.userId, f: r.field, v: r.value })),
  });
}

/** The rows a round's users need (see planStateRequest), grouped per user. @throws SentinelError(store_unavailable). */
export async function loadUserState(
  pool: DatabasePool,
  request: StateRequest,
): Promise<Map<string, StoredState>> {
  const out = new Map<string, StoredState>();
  if (request.users.length === 0) return out;
  for (const u of request.users) out.set(u, emptyStoredState());
  const positionsOnly =
    request.buckets.length + request.edges.length + request.recentValues.length + request.values.length === 0;
  // Users not known to have a state need their positions only (most users of a live round until
  // they pass STATE_AFTER): a statement PostgreSQL plans in a fraction of the five-part one's time
  // (1.0–1.1 ms per round of 25, bench/store-statements.ts --round).
  const rows = await withDbErrors("load user state", () =>
    positionsOnly
      ? pool.any(sql.prepared("sentinel_load_positions", StateRow)`
      SELECT ${POSITION_ROW} FROM user_positions p WHERE p.user_id = ANY(${sql.array(request.users, "text")})`)
      : pool.any(sql.prepared("sentinel_load_user_state", StateRow)`
      WITH q AS (SELECT ${stateDocument(request)}::json AS d), ready AS (
        SELECT p.user_id, p.source_partition, p.max_offset, p.mixed, p.n, p.state_ready FROM user_positions p
        WHERE p.user_id = ANY(${sql.array(request.users, "text")})
      )
      SELECT ${POSITION_ROW} FROM ready p
      UNION ALL
      SELECT 'b', r.u, s.currency, s.total::text, s.bucket, s.n, r.g::int8
      FROM json_to_recordset((SELECT d->'b' FROM q)) AS r(u text, g int4, lo int8, hi int8)
      JOIN ready ON ready.user_id = r.u AND ready.state_ready
      CROSS JOIN LATERAL (
        SELECT currency, total, bucket, n FROM user_buckets
        WHERE user_id = r.u AND grain = r.g AND bucket BETWEEN r.lo AND r.hi OFFSET 0
      ) s
      UNION ALL
      SELECT 'e', r.u, t.currency, t.amount::text, (extract(epoch FROM t.received_at) * 1000)::int8, NULL, NULL
      FROM json_to_recordset((SELECT d->'e' FROM q)) AS r(u text, lo int8, hi int8)
      JOIN ready ON ready.user_id = r.u AND ready.state_ready
      CROSS JOIN LATERAL (
        SELECT currency, amount, received_at FROM transactions
        WHERE user_id = r.u
          AND received_at > timestamptz 'epoch' + r.lo * interval '1 millisecond'
          AND received_at < timestamptz 'epoch' + r.hi * interval '1 millisecond'
        OFFSET 0
      ) t
      UNION ALL
      SELECT 'r', r.u, r.f, v.value, v.last_ms, NULL, NULL
      FROM json_to_recordset((SELECT d->'r' FROM q)) AS r(u text, f text, lo int8)
      JOIN ready ON ready.user_id = r.u AND ready.state_ready
      CROSS JOIN LATERAL (
        SELECT value, last_ms FROM user_values
        WHERE user_id = r.u AND field = r.f AND last_ms > r.lo
        ORDER BY last_ms DESC LIMIT ${DISTINCT_CAP}
      ) v
      UNION ALL
      SELECT 'v', r.u, r.f, r.v, s.last_ms, NULL, NULL
      FROM json_to_recordset((SELECT d->'v' FROM q)) AS r(u text, f text, v text)
      JOIN ready ON ready.user_id = r.u AND ready.state_ready
      CROSS JOIN LATERAL (
        SELECT last_ms FROM user_values WHERE user_id = r.u AND field = r.f AND value = r.v OFFSET 0
      ) s`),
  );
  for (const row of rows) {
    const state = out.get(row.user_id)!;
    switch (row.kind) {
      case "p":
        state.position = {
          partition: row.x!,
          maxOffset: row.y!,
          mixed: row.z === 1,
          count: Number(row.b),
          ready: row.a === "true",
        };
        break;
      case "b":
        state.buckets.push({
          grain: row.z as Grain,
          bucket: row.x!,
          currency: row.a!,
          n: row.y!,
          total: row.b!,
        });
        break;
      case "e":
        state.edges.push({ receivedMs: row.x!, currency: row.a!, amount: row.b! });
        break;
      default: // "r" (recent) or "v" (the round's own)
        state.values.push({ field: row.a as AggField, value: row.b!, lastMs: row.x! });
    }
  }
  return out;
}

/*
 * What a user's state holds of its transactions, defined once for the statement that stores a
 * round (store-decided.ts) and for buildUserState. `source` is a relation of columns u (user), ms
 * (received, ms), a (amount), c (currency), co, dv, m, mc, ch and ip (text): the aggregated fields.
 * Rows are added in key order, so two statements never wait on each other's rows in opposite orders.
 */

/** Number and total per currency per UTC minute, hour and day (grains: GRAINS). */
export const addBuckets = (source: FragmentSqlToken) => sql.fragment`
  INSERT INTO user_buckets (user_id, grain, bucket, currency, n, total)
  SELECT u, g.grain, floor(ms / (g.grain * 1000.0))::int8, c, count(*), sum(a)
  FROM ${source} AS s CROSS JOIN (VALUES (60), (3600), (86400)) AS g (grain)
  GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
  ON CONFLICT (user_id, grain, bucket, currency)
    DO UPDATE SET n = user_buckets.n + excluded.n, total = user_buckets.total + excluded.total`;

/** The last time each value of each aggregated field was seen. */
export const addValues = (source: FragmentSqlToken) => sql.fragment`
  INSERT INTO user_values (user_id, field, value, last_ms)
  SELECT u, f.field, f.value, max(ms)
  FROM ${source} AS s CROSS JOIN LATERAL (VALUES ('country', co), ('device_id', dv), ('merchant_id', m),
    ('merchant_category', mc), ('channel', ch), ('ip', ip), ('currency', c)) AS f (field, value)
  WHERE f.value IS NOT NULL
  GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (user_id, field, value) DO UPDATE SET last_ms = greatest(user_values.last_ms, excluded.last_ms)`;

/**
 * Builds the state of these users from their stored rows, for those past STATE_AFTER that have
 * none yet, in one transaction: their positions rows are locked first, so a statement storing
 * their transactions meanwhile either committed before (its rows are read here) or waits, then
 * sees state_ready and adds its own rows (store-decided.ts) — none is counted twice or missed.
 * Returns the users built. @throws SentinelError(store_unavailable).
 */
export async function buildUserState(pool: DatabasePool, users: readonly string[]): Promise<string[]> {
  if (users.length === 0) return [];
  return withDbErrors("build user state", () =>
    pool.transaction(async (tx) => {
      const locked = await tx.anyFirst(sql.type(z.object({ user_id: z.string() }))`
        SELECT user_id FROM user_positions
        WHERE user_id = ANY(${sql.array(users, "text")}) AND NOT state_ready AND n > ${STATE_AFTER}
        ORDER BY user_id FOR UPDATE`);
      if (locked.length === 0) return [];
      const ids = sql.array(locked, "text");
      // New statements: their snapshot is taken after the locks, so it holds every row committed
      // by a statement that updated these positions before.
      const stored = sql.fragment`(
        SELECT user_id AS u, (extract(epoch FROM received_at) * 1000)::int8 AS ms, amount AS a,
               currency AS c, country AS co, device_id AS dv, merchant_id AS m,
               merchant_category AS mc, channel AS ch, host(ip) AS ip
        FROM transactions WHERE user_id = ANY(${ids}))`;
      await tx.query(sql.unsafe`${addBuckets(stored)}`);
      await tx.query(sql.unsafe`${addValues(stored)}`);
      await tx.query(sql.unsafe`UPDATE user_positions SET state_ready = true WHERE user_id = ANY(${ids})`);
      return [...locked];
    }),
  );
}

import { sql } from "slonik";
import { z } from "zod";
import { emptyStoredState, type Grain, type StateRequest, type StoredState } from "../consumer/user-state.ts";
import { DISTINCT_CAP } from "../rules/history.ts";
import type { AggField } from "../rules/rule-language.ts";
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

/** The rows a round's users need (see planStateRequest), grouped per user. @throws SentinelError(store_unavailable). */
export async function loadUserState(
  pool: DatabasePool,
  request: StateRequest,
): Promise<Map<string, StoredState>> {
  const out = new Map<string, StoredState>();
  if (request.users.length === 0) return out;
  for (const u of request.users) out.set(u, emptyStoredState());
  const doc = JSON.stringify({
    u: request.users,
    b: request.buckets.map((r) => ({ u: r.userId, g: r.grain, lo: r.lo, hi: r.hi })),
    e: request.edges.map((r) => ({ u: r.userId, lo: r.fromMs, hi: r.toMs })),
    r: request.recentValues.map((r) => ({ u: r.userId, f: r.field, lo: r.fromMs })),
    v: request.values.map((r) => ({ u: r.userId, f: r.field, v: r.value })),
  });
  const rows = await withDbErrors("load user state", () =>
    pool.any(sql.type(StateRow)`
      WITH q AS (SELECT ${doc}::json AS d)
      SELECT 'p' AS kind, p.user_id, NULL::text AS a, NULL::text AS b,
             p.source_partition::int8 AS x, p.max_offset AS y, p.mixed::int4::int8 AS z
      FROM user_positions p
      WHERE p.user_id IN (SELECT json_array_elements_text(d->'u') FROM q)
      UNION ALL
      SELECT 'b', r.u, s.currency, s.total::text, s.bucket, s.n, r.g::int8
      FROM json_to_recordset((SELECT d->'b' FROM q)) AS r(u text, g int4, lo int8, hi int8)
      CROSS JOIN LATERAL (
        SELECT currency, total, bucket, n FROM user_buckets
        WHERE user_id = r.u AND grain = r.g AND bucket BETWEEN r.lo AND r.hi OFFSET 0
      ) s
      UNION ALL
      SELECT 'e', r.u, t.currency, t.amount::text, (extract(epoch FROM t.received_at) * 1000)::int8, NULL, NULL
      FROM json_to_recordset((SELECT d->'e' FROM q)) AS r(u text, lo int8, hi int8)
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
      CROSS JOIN LATERAL (
        SELECT value, last_ms FROM user_values
        WHERE user_id = r.u AND field = r.f AND last_ms > r.lo
        ORDER BY last_ms DESC LIMIT ${DISTINCT_CAP}
      ) v
      UNION ALL
      SELECT 'v', r.u, r.f, r.v, s.last_ms, NULL, NULL
      FROM json_to_recordset((SELECT d->'v' FROM q)) AS r(u text, f text, v text)
      CROSS JOIN LATERAL (
        SELECT last_ms FROM user_values WHERE user_id = r.u AND field = r.f AND value = r.v OFFSET 0
      ) s`),
  );
  for (const row of rows) {
    const state = out.get(row.user_id)!;
    switch (row.kind) {
      case "p":
        state.position = { partition: row.x!, maxOffset: row.y!, mixed: row.z === 1 };
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

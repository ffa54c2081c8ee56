import { sql } from "slonik";
import { z } from "zod";
import { type Actor, withAudit } from "../audit/audit-store.ts";
import { withDbErrors } from "../store/db-errors.ts";
import type { DatabasePool } from "../store/pool.ts";
import { ISO_UTC } from "../store/sql-time.ts";
import type { WebhookEvent } from "./events.ts";

/*
 * Deliveries (issue 23): one row per event and endpoint, held in PostgreSQL until a 2xx or the end
 * of the schedule. Every call is one statement for many deliveries — the intake stores a Kafka
 * batch's events at once, the dispatcher claims and records in batches — so 2,000 deliveries/s
 * cost a few statements per second, not one per delivery. A claim leases its rows by moving their
 * next attempt to the lease's end: claimed rows leave the due part of the index (a claim never
 * walks over what is in flight), and the rows of a dispatcher that died are due again when the
 * lease ends, sent with the same message id.
 * Every method throws SentinelError(store_unavailable) when PostgreSQL is away.
 */

export type Claimed = {
  deliveryId: number;
  endpointId: string;
  messageId: string;
  body: string;
  /** This attempt's number (1 for the first). */
  attempt: number;
  eventAtMs: number;
  /**
   * The lease this claim set (the row's next_attempt_at, exactly, as PostgreSQL prints it): the
   * result is recorded only while the row still holds it — a redelivery or replay meanwhile (which
   * makes the row due now) is not undone by the result of the attempt it interrupted.
   */
  lease: string;
};

export type Outcome = {
  deliveryId: number;
  attempt: number;
  /** The claim's lease (Claimed.lease). */
  lease: string;
  attemptedAtMs: number;
  ok: boolean;
  status: number | undefined;
  latencyMs: number;
  error: string | undefined;
  /** When to try again; undefined with !ok: the delivery has failed for good. */
  nextAttemptAtMs: number | undefined;
};

const ts = (expr: ReturnType<typeof sql.fragment>) =>
  sql.fragment`to_char((${expr}) AT TIME ZONE 'UTC', ${ISO_UTC})`;

const DeliveryRow = z.object({
  delivery_id: z.number(),
  message_id: z.string(),
  event_type: z.string(),
  status: z.enum(["pending", "delivered", "failed"]),
  event_at: z.string(),
  created_at: z.string(),
  next_attempt_at: z.string().nullable(),
  delivered_at: z.string().nullable(),
  last_status: z.number().nullable(),
  last_error: z.string().nullable(),
  attempts: z.array(
    z.object({
      attempt: z.number(),
      at: z.string(),
      status_code: z.number().nullable(),
      latency_ms: z.number(),
      error: z.string().nullable(),
    }),
  ),
});
export type Delivery = z.output<typeof DeliveryRow>;

/** What the delivery process does with deliveries: store, claim, record. */
function createDeliveryQueue(pool: DatabasePool) {
  return {
    /**
     * Stores each event once for each enabled endpoint that subscribes to its type and existed when
     * it happened (a redelivered event is not stored again); returns how many deliveries were new.
     */
    async enqueue(events: readonly WebhookEvent[]): Promise<number> {
      if (events.length === 0) return 0;
      const tuples = events.map((e) => [e.messageId, e.type, e.body, e.at]);
      const inserted = await withDbErrors("store webhook deliveries", () =>
        pool.query(sql.unsafe`
          INSERT INTO webhook_deliveries (endpoint_id, message_id, event_type, body, event_at, next_attempt_at)
          SELECT e.endpoint_id, r.m, r.t, r.b, r.at::timestamptz, now()
          FROM ${sql.unnest(tuples, ["text", "text", "text", "text"])} AS r(m, t, b, at)
          JOIN webhook_endpoints e ON e.enabled AND r.t = ANY (e.events) AND r.at::timestamptz >= e.created_at
          ON CONFLICT (endpoint_id, message_id) DO NOTHING`),
      );
      return inserted.rowCount;
    },

    /**
     * Leases up to `slots` due deliveries of each endpoint for `leaseMs`, oldest due first, skipping
     * rows another dispatcher holds. Each claim is an attempt: its number is counted here.
     */
    async claim(slots: ReadonlyMap<string, number>, leaseMs: number): Promise<Claimed[]> {
      const wanted = [...slots].filter(([, n]) => n > 0);
      if (wanted.length === 0) return [];
      const rows = await withDbErrors("claim webhook deliveries", () =>
        pool.any(sql.type(
          z.object({
            delivery_id: z.number(),
            endpoint_id: z.string(),
            message_id: z.string(),
            body: z.string(),
            attempts: z.number(),
            event_ms: z.number(),
            lease: z.string(),
          }),
        )`
          WITH picked AS (
            SELECT x.delivery_id
            FROM ${sql.unnest(wanted, ["text", "int4"])} AS s(endpoint_id, slots)
            CROSS JOIN LATERAL (
              SELECT d.delivery_id FROM webhook_deliveries d
              WHERE d.endpoint_id = s.endpoint_id AND d.status = 'pending' AND d.next_attempt_at <= now()
              ORDER BY d.next_attempt_at LIMIT s.slots
              FOR UPDATE SKIP LOCKED
            ) x
          )
          UPDATE webhook_deliveries d
          SET next_attempt_at = now() + ${leaseMs} * interval '1 millisecond', attempts = d.attempts + 1
          FROM picked WHERE d.delivery_id = picked.delivery_id
          RETURNING d.delivery_id, d.endpoint_id, d.message_id, d.body, d.attempts,
            (extract(epoch FROM d.event_at) * 1000)::float8 AS event_ms, d.next_attempt_at::text AS lease`),
      );
      return rows.map((r) => ({
        deliveryId: r.delivery_id,
        endpointId: r.endpoint_id,
        messageId: r.message_id,
        body: r.body,
        attempt: r.attempts,
        eventAtMs: r.event_ms,
        lease: r.lease,
      }));
    },

    /**
     * Records attempts and their outcome in one statement. A result that arrives after its lease was
     * taken over (the delivery was claimed again since, or redelivered or replayed by an operator) is
     * kept as an attempt but changes nothing.
     */
    async record(outcomes: readonly Outcome[]): Promise<void> {
      if (outcomes.length === 0) return;
      const tuples = outcomes.map((o) => [
        o.deliveryId,
        o.attempt,
        o.lease,
        o.attemptedAtMs,
        o.ok,
        o.status ?? null,
        o.latencyMs,
        o.error?.slice(0, 500) ?? null,
        o.nextAttemptAtMs ?? null,
      ]);
      await withDbErrors("record webhook attempts", () =>
        pool.query(sql.unsafe`
          WITH r AS (
            SELECT * FROM ${sql.unnest(tuples, ["int8", "int4", "text", "float8", "bool", "int4", "int4", "text", "float8"])}
              AS r(id, attempt, lease, at_ms, ok, status, latency, error, next_ms)
          ), u AS (
            UPDATE webhook_deliveries d SET
              status = CASE WHEN r.ok THEN 'delivered' WHEN r.next_ms IS NULL THEN 'failed' ELSE 'pending' END,
              next_attempt_at = CASE WHEN r.ok OR r.next_ms IS NULL THEN NULL ELSE to_timestamp(r.next_ms / 1000) END,
              last_status = r.status, last_error = r.error,
              delivered_at = CASE WHEN r.ok THEN to_timestamp(r.at_ms / 1000) ELSE d.delivered_at END
            FROM r WHERE d.delivery_id = r.id AND d.attempts = r.attempt AND d.status = 'pending'
              AND d.next_attempt_at = r.lease::timestamptz
          )
          INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, status_code, latency_ms, error)
          SELECT id, attempt, to_timestamp(at_ms / 1000), status, latency, error FROM r
          ON CONFLICT DO NOTHING`),
      );
    },

    /** Marks endpoints' failing streaks: cleared where any attempt succeeded, started where all failed. */
    async markStreaks(
      succeeded: readonly string[],
      failed: readonly string[],
      disableAfterMs: number,
    ): Promise<string[]> {
      if (succeeded.length > 0) {
        await withDbErrors("clear webhook failing streaks", () =>
          pool.query(sql.unsafe`
            UPDATE webhook_endpoints SET failing_since = NULL
            WHERE endpoint_id = ANY(${sql.array(succeeded, "text")}) AND failing_since IS NOT NULL`),
        );
      }
      if (failed.length === 0) return [];
      const expired = await withDbErrors("mark webhook failing streaks", () =>
        pool.anyFirst(sql.type(z.object({ endpoint_id: z.string() }))`
          WITH m AS (
            UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, now())
            WHERE endpoint_id = ANY(${sql.array(failed, "text")})
            RETURNING endpoint_id, failing_since, enabled
          )
          SELECT endpoint_id FROM m
          WHERE enabled AND failing_since <= now() - ${disableAfterMs} * interval '1 millisecond'`),
      );
      return [...expired];
    },
  };
}

/** What operators do with deliveries: read the log, send again, watch the backlog. */
function createDeliveryLog(pool: DatabasePool) {
  return {
    /** An endpoint's deliveries, newest first, with their attempts; cursor-paged by delivery id. */
    async list(
      endpointId: string,
      q: { limit: number; cursor?: number; status?: Delivery["status"] },
    ): Promise<{ deliveries: Delivery[]; nextCursor: number | null }> {
      const rows = await withDbErrors("list webhook deliveries", () =>
        pool.any(sql.type(DeliveryRow)`
          SELECT d.delivery_id, d.message_id, d.event_type, d.status,
            ${ts(sql.fragment`d.event_at`)} AS event_at, ${ts(sql.fragment`d.created_at`)} AS created_at,
            ${ts(sql.fragment`d.next_attempt_at`)} AS next_attempt_at,
            ${ts(sql.fragment`d.delivered_at`)} AS delivered_at, d.last_status, d.last_error,
            coalesce((SELECT json_agg(json_build_object('attempt', a.attempt,
                'at', ${ts(sql.fragment`a.attempted_at`)}, 'status_code', a.status_code,
                'latency_ms', a.latency_ms, 'error', a.error) ORDER BY a.attempt)
              FROM webhook_attempts a WHERE a.delivery_id = d.delivery_id), '[]') AS attempts
          FROM webhook_deliveries d
          WHERE d.endpoint_id = ${endpointId}
            ${q.cursor !== undefined ? sql.fragment`AND d.delivery_id < ${q.cursor}` : sql.fragment``}
            ${q.status !== undefined ? sql.fragment`AND d.status = ${q.status}` : sql.fragment``}
          ORDER BY d.delivery_id DESC LIMIT ${q.limit + 1}`),
      );
      const deliveries = rows.slice(0, q.limit);
      return { deliveries, nextCursor: rows.length > q.limit ? deliveries.at(-1)!.delivery_id : null };
    },

    /** Sends a delivery again now (same message id), whatever its state; null when unknown. */
    redeliver(
      deliveryId: number,
      actor: Actor,
    ): Promise<{ delivery_id: number; endpoint_id: string } | null> {
      return withAudit(pool, "redeliver webhook", actor, async (t, audit) => {
        const row = await t.maybeOne(sql.type(z.object({ delivery_id: z.number(), endpoint_id: z.string() }))`
          UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now()
          WHERE delivery_id = ${deliveryId} RETURNING delivery_id, endpoint_id`);
        if (row) audit.push({ action: "webhook.redeliver", target: String(deliveryId), after: row });
        return row;
      });
    },

    /** Sends again every delivery of an endpoint whose event is in [since, until) (same message ids). */
    replay(endpointId: string, sinceMs: number, untilMs: number | undefined, actor: Actor): Promise<number> {
      return withAudit(pool, "replay webhooks", actor, async (t, audit) => {
        const result = await t.query(sql.unsafe`
          UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now()
          WHERE endpoint_id = ${endpointId} AND event_at >= to_timestamp(${sinceMs / 1000})
            ${untilMs !== undefined ? sql.fragment`AND event_at < to_timestamp(${untilMs / 1000})` : sql.fragment``}`);
        audit.push({
          action: "webhook.replay",
          target: endpointId,
          after: {
            since: new Date(sinceMs).toISOString(),
            until: untilMs ? new Date(untilMs).toISOString() : null,
            deliveries: result.rowCount,
          },
        });
        return result.rowCount;
      });
    },

    /** Undelivered deliveries of enabled endpoints: how many, and the age of the oldest (seconds). */
    async backlog(): Promise<{ pending: number; oldestSeconds: number }> {
      const row = await withDbErrors("webhook backlog", () =>
        pool.one(sql.type(z.object({ pending: z.number(), oldest: z.number() }))`
          SELECT count(*)::int4 AS pending,
            coalesce(extract(epoch FROM now() - min(d.created_at)), 0)::float8 AS oldest
          FROM webhook_deliveries d JOIN webhook_endpoints e USING (endpoint_id)
          WHERE d.status = 'pending' AND e.enabled`),
      );
      return { pending: row.pending, oldestSeconds: row.oldest };
    },
  };
}

export type DeliveryStore = ReturnType<typeof createDeliveryStore>;

export function createDeliveryStore({ pool }: { pool: DatabasePool }) {
  return { ...createDeliveryQueue(pool), ...createDeliveryLog(pool) };
}

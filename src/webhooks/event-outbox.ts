import { type CommonQueryMethods, sql } from "slonik";
import { z } from "zod";
import { createOutboxLoop, type OutboxLoop, type OutboxOptions } from "../kafka/outbox-loop.ts";
import { createPublisher } from "../kafka/publisher.ts";
import { withDbErrors } from "../store/db-errors.ts";
import { ISO_UTC } from "../store/sql-time.ts";
import type { OutboxEventType, OutboxMessage } from "./events.ts";

/*
 * The events that have no topic of their own — a case resolved, a rule set activated — on the
 * events topic (`sentinel.events`, key: the event's key), from an outbox row written in the
 * transaction that makes the change (so a change and its event commit or roll back together), and
 * published from here at once after the change and every `intervalMs` for what is still pending.
 * At least once: readers deduplicate by event_id (the webhook deliveries do, by message id).
 */

/** Writes an event on `connection`, a transaction of the caller's. @throws slonik errors (callers wrap). */
export async function recordEvent(
  connection: CommonQueryMethods,
  type: OutboxEventType,
  key: string,
  data: Record<string, unknown>,
): Promise<void> {
  await connection.query(sql.unsafe`
    INSERT INTO event_outbox (type, key, data) VALUES (${type}, ${key}, ${JSON.stringify(data)}::jsonb)`);
}

const Pending = z.object({
  event_id: z.number(),
  type: z.enum(["case.resolved", "rules.activated"]),
  key: z.string(),
  at: z.string(),
  data: z.record(z.string(), z.unknown()),
});

/** Publishes up to `batch` pending events a drain (src/kafka/outbox-loop.ts). */
export type EventOutbox = OutboxLoop;

export function createEventOutbox({
  pool,
  producer,
  topic,
  maxRequestBytes,
  logger,
  intervalMs = 1_000,
  batch = 500,
}: OutboxOptions): EventOutbox {
  const publisher = createPublisher({ producer, maxRequestBytes });

  async function drain(): Promise<number> {
    const pending = await withDbErrors("pending events", () =>
      pool.any(sql.type(Pending)`
        SELECT event_id, type, key, to_char(created_at AT TIME ZONE 'UTC', ${ISO_UTC}) AS at, data
        FROM event_outbox WHERE published_at IS NULL ORDER BY event_id LIMIT ${batch}`),
    );
    if (pending.length === 0) return 0;
    await publisher.publish([
      {
        topic,
        messages: pending.map(({ key, ...e }) => ({
          key,
          value: JSON.stringify({
            event_id: e.event_id,
            type: e.type,
            at: e.at,
            data: e.data,
          } satisfies OutboxMessage),
        })),
      },
    ]);
    const ids = pending.map((p) => p.event_id);
    await withDbErrors("mark events published", () =>
      pool.query(sql.unsafe`
        UPDATE event_outbox SET published_at = now() WHERE event_id = ANY(${sql.array(ids, "int8")})`),
    );
    return pending.length;
  }

  return createOutboxLoop({ drain, intervalMs, logger, what: "events" });
}

import { sql } from "slonik";
import { z } from "zod";
import { LABEL_SOURCES, LABELS, type Label, type LabelSource } from "../domain/case.ts";
import { createOutboxLoop, type OutboxLoop, type OutboxOptions } from "../kafka/outbox-loop.ts";
import { createPublisher } from "../kafka/publisher.ts";
import { withDbErrors } from "../store/db-errors.ts";
import { ISO_UTC } from "../store/sql-time.ts";

/*
 * Labels on `transactions.labels` (key user_id, acks=all), from the label outbox (issue 20): a
 * label is stored with its outbox row in the transaction that makes it, and published from here —
 * at once after the answer's commit, and every `intervalMs` for whatever is still pending (the
 * broker was away, the process died). At least once: a label may be published twice; readers
 * deduplicate by `label_id`.
 */

export type LabelMessage = {
  /** The label's id: the idempotency key of readers of the labels topic. */
  label_id: number;
  transaction_id: string;
  user_id: string;
  label: Label;
  source: LabelSource;
  note?: string;
  labelled_at: string;
};

const Pending = z.object({
  label_id: z.number(),
  transaction_id: z.string(),
  user_id: z.string(),
  label: z.enum(LABELS),
  source: z.enum(LABEL_SOURCES),
  note: z.string().nullable(),
  labelled_at: z.string(),
});

/** Publishes up to `batch` pending labels a drain (src/kafka/outbox-loop.ts). */
export type LabelOutbox = OutboxLoop;

export function createLabelOutbox({
  pool,
  producer,
  topic,
  maxRequestBytes,
  logger,
  intervalMs = 2_000,
  batch = 500,
}: OutboxOptions): LabelOutbox {
  const publisher = createPublisher({ producer, maxRequestBytes });

  async function drain(): Promise<number> {
    const pending = await withDbErrors("pending labels", () =>
      pool.any(sql.type(Pending)`
        SELECT o.label_id, l.transaction_id::text, t.user_id, l.label, l.source, l.note,
          to_char(l.created_at AT TIME ZONE 'UTC', ${ISO_UTC}) AS labelled_at
        FROM label_outbox o JOIN labels l USING (label_id) JOIN transactions t USING (transaction_id)
        WHERE o.published_at IS NULL ORDER BY o.label_id LIMIT ${batch}`),
    );
    if (pending.length === 0) return 0;
    // Through the project's publish boundary: split to fit the broker's limits by bytes (500 labels
    // with long notes would not fit one request, and a refused request would be retried for ever).
    await publisher.publish([
      {
        topic,
        messages: pending.map(({ note, ...l }) => ({
          key: l.user_id,
          value: JSON.stringify(note === null ? l : { ...l, note }),
        })),
      },
    ]);
    const ids = pending.map((p) => p.label_id);
    await withDbErrors("mark labels published", () =>
      pool.query(sql.unsafe`
        UPDATE label_outbox SET published_at = now() WHERE label_id = ANY(${sql.array(ids, "int8")})`),
    );
    return pending.length;
  }

  return createOutboxLoop({ drain, intervalMs, logger, what: "labels" });
}

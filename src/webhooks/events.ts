import { createHash } from "node:crypto";
import { z } from "zod";
import { DecisionSchema } from "../domain/decision.ts";

/*
 * The webhook events (issue 23): what each one is made from, its body `{type, timestamp, data}`
 * and its message id. The id is derived from the event (type and the object's key), so the same
 * event read again — a redelivered Kafka batch, a replay of the topic — is the same message, with
 * the same `webhook-id`, and is stored once per endpoint.
 */

export const EVENT_TYPES = [
  "decision.declined",
  "decision.review",
  "decision.approved",
  "case.opened",
  "case.resolved",
  "label.created",
  "rules.activated",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The events written to the events topic from the outbox (the others come from their own topics). */
export type OutboxEventType = Extract<EventType, "case.resolved" | "rules.activated">;

/** A body is at most this long: the data of one object, never a list of them. */
export const MAX_BODY_BYTES = 20_000;

export type WebhookEvent = {
  type: EventType;
  /** The message id (`webhook-id`), `msg_` and 26 characters of the event's hash. */
  messageId: string;
  /** When the event happened (ISO 8601): the body's timestamp. */
  at: string;
  /** The exact JSON body. */
  body: string;
};

export function messageIdOf(type: EventType, key: string): string {
  return `msg_${createHash("sha256").update(`${type}\n${key}`).digest("base64url").slice(0, 26)}`;
}

export function makeEvent(
  type: EventType,
  key: string,
  at: string,
  data: Record<string, unknown>,
): WebhookEvent {
  let body = JSON.stringify({ type, timestamp: at, data });
  if (Buffer.byteLength(body) > MAX_BODY_BYTES) {
    // Only long free text (reasons, notes) can make it so: the receiver gets the object's ids and
    // reads the rest from the API.
    const ids = Object.fromEntries(
      Object.entries(data).filter(([k]) => k.endsWith("_id") || k === "version"),
    );
    body = JSON.stringify({ type, timestamp: at, data: { ...ids, truncated: true } });
  }
  return { type, messageId: messageIdOf(type, key), at, body };
}

const DECISION_EVENT = {
  approve: "decision.approved",
  review: "decision.review",
  decline: "decision.declined",
} as const;

/** A decision's events: its decision.* event, and case.opened for a review (a case is opened for every review). */
export function decisionEvents(value: unknown): WebhookEvent[] {
  const d = DecisionSchema.parse(value);
  const events = [makeEvent(DECISION_EVENT[d.decision], d.transaction_id, d.decided_at, d)];
  if (d.decision === "review") {
    events.push(
      makeEvent("case.opened", d.transaction_id, d.decided_at, {
        case_id: d.transaction_id,
        transaction_id: d.transaction_id,
        user_id: d.user_id,
        status: "open",
        opened_at: d.decided_at,
        decision: d.decision,
        score: d.score,
        reasons: d.reasons,
      }),
    );
  }
  return events;
}

const LabelMessage = z.object({
  label_id: z.number(),
  transaction_id: z.string(),
  user_id: z.string(),
  label: z.string(),
  source: z.string(),
  note: z.string().optional(),
  labelled_at: z.string(),
});

/** A message of the labels topic as its label.created event. */
export function labelEvents(value: unknown): WebhookEvent[] {
  const l = LabelMessage.parse(value);
  return [makeEvent("label.created", String(l.label_id), l.labelled_at, l)];
}

/*
 * What each event type of the events topic carries (issue 35): exactly these fields, or the
 * message is no event of ours — the intake dead-letters it instead of signing and sending it. The
 * topic is writable by whoever may produce to it; a webhook is signed with our key.
 */
const Name = z.string().min(1).max(64);
const EVENT_DATA = {
  "case.resolved": z.strictObject({
    case_id: z.uuid(),
    transaction_id: z.uuid(),
    user_id: Name,
    status: z.literal("resolved"),
    label: z.enum(["fraud", "legitimate"]),
    resolved_by: Name,
    block_user: z.boolean(),
    label_id: z.int().positive(),
  }),
  "rules.activated": z.strictObject({
    version: z.string().regex(/^rs-[0-9a-f]{12}$/),
    previous: z
      .string()
      .regex(/^rs-[0-9a-f]{12}$/)
      .nullable(),
    activated_by: Name,
    rollback: z.literal(true).optional(),
  }),
} as const;

/** A message of the events topic (written by the event outbox). */
export const OutboxMessage = z
  .strictObject({
    event_id: z.int().positive(),
    type: z.enum(["case.resolved", "rules.activated"]),
    at: z.iso.datetime({ offset: true }),
    data: z.record(z.string(), z.unknown()),
  })
  .superRefine((e, ctx) => {
    const checked = EVENT_DATA[e.type].safeParse(e.data);
    if (!checked.success) {
      for (const issue of checked.error.issues.slice(0, 5)) {
        ctx.addIssue({ code: "custom", path: ["data", ...issue.path.map(String)], message: issue.message });
      }
    }
  });
export type OutboxMessage = z.output<typeof OutboxMessage>;

/** @throws ZodError when the message is not an event of ours (the intake dead-letters it). */
export function outboxEvents(value: unknown): WebhookEvent[] {
  const e = OutboxMessage.parse(value);
  return [makeEvent(e.type, String(e.event_id), e.at, e.data)];
}

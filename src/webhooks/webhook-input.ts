import { z } from "zod";
import { textWithoutPan } from "../domain/free-text.ts";
import { containsPanText } from "../domain/pan.ts";
import { urlRefusal } from "./address-guard.ts";
import { EVENT_TYPES } from "./events.ts";

/*
 * What the API and the CLI accept for an endpoint (issue 23), one schema for both: a URL the
 * guard allows (checked before anything is stored; nothing is connected to), events from the
 * closed list, a description without card numbers.
 */

/** The URL as WHATWG parses it (host lower-cased, IPv4 forms spelled out, path dot-segments gone). */
function normalised(value: string): string {
  try {
    return new URL(value).href;
  } catch {
    return value; // refused by the guard below
  }
}

/** Its text and its percent-decoded text, where a card number could hide (%34%31…). */
function decodedForms(href: string): string[] {
  try {
    return [href, decodeURIComponent(href)];
  } catch {
    return [href];
  }
}

/** An endpoint URL: stored normalised (issue 35), refused when the guard refuses it or it holds a PAN. */
export const endpointUrl = (allowPrivate: boolean) =>
  z
    .string()
    .max(2_048)
    .transform(normalised)
    .superRefine((value, ctx) => {
      const refused = urlRefusal(value, allowPrivate);
      if (refused) ctx.addIssue({ code: "custom", message: `refused: ${refused}` });
      else if (decodedForms(value).some(containsPanText))
        ctx.addIssue({
          code: "custom",
          message: "looks like it holds a card number; never put a PAN in a URL",
        });
    });

const Events = z
  .array(z.enum(EVENT_TYPES))
  .min(1, "subscribe to at least one event")
  .max(EVENT_TYPES.length)
  .transform((events) => [...new Set(events)]);

export const EndpointInput = (allowPrivate: boolean) =>
  z.strictObject({
    url: endpointUrl(allowPrivate),
    events: Events,
    description: textWithoutPan(500).optional(),
  });

export const EndpointPatchInput = (allowPrivate: boolean) =>
  z
    .strictObject({
      url: endpointUrl(allowPrivate).optional(),
      events: Events.optional(),
      description: textWithoutPan(500).nullable().optional(),
      enabled: z.boolean().optional(),
    })
    .refine((p) => Object.keys(p).length > 0, "change at least one of url, events, description, enabled");

const OverlapMs = z
  .int()
  .min(0)
  .max(30 * 86_400_000)
  .optional();

/**
 * POST /webhooks/endpoints/:id/rotate-secret: how long the old secret keeps signing, in
 * milliseconds (0: not at all); `overlap` is the same (the name issue 35 used).
 */
export const RotateInput = z
  .strictObject({ overlap_ms: OverlapMs, overlap: OverlapMs })
  .transform(({ overlap_ms, overlap }) => ({ overlap_ms: overlap_ms ?? overlap }));

export const EndpointId = z
  .string()
  .regex(/^ep_[0-9a-f]{20}$/, "must be an endpoint id such as ep_0123456789abcdef0123");

const Time = z.iso.datetime({ offset: true, error: "must be an RFC 3339 time with offset" });

export const DeliveriesQuery = z.strictObject({
  status: z.enum(["pending", "delivered", "failed"]).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.coerce.number().int().positive("must be the next_cursor of a previous page").optional(),
});

export const ReplayInput = z
  .strictObject({ since: Time, until: Time.optional() })
  .refine((r) => r.until === undefined || Date.parse(r.until) > Date.parse(r.since), {
    message: "must be after since",
    path: ["until"],
  });

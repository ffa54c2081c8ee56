import { z } from "zod";
import { textWithoutPan } from "../domain/free-text.ts";
import { urlRefusal } from "./address-guard.ts";
import { EVENT_TYPES } from "./events.ts";

/*
 * What the API and the CLI accept for an endpoint (issue 23), one schema for both: a URL the
 * guard allows (checked before anything is stored; nothing is connected to), events from the
 * closed list, a description without card numbers.
 */

export const endpointUrl = (allowPrivate: boolean) =>
  z
    .string()
    .max(2_048)
    .superRefine((value, ctx) => {
      const refused = urlRefusal(value, allowPrivate);
      if (refused) ctx.addIssue({ code: "custom", message: `refused: ${refused}` });
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

import { z } from "zod";
import { COUNTRY_CODES } from "./iso3166.ts";
import { CURRENCY_MINOR_UNITS } from "./iso4217.ts";

export const RISK_TIERS = ["low", "medium", "high"] as const;
export const PROFILE_STATUSES = ["active", "blocked"] as const;

const limit = z
  .string()
  .regex(/^(0|[1-9]\d{0,17})(\.\d{1,4})?$/, 'must be a non-negative decimal string such as "500.00"');

/** The body of PUT /users/:id/profile. Limits are in the profile's currency. */
export const ProfileInputSchema = z.strictObject({
  status: z.enum(PROFILE_STATUSES).default("active"),
  risk_tier: z.enum(RISK_TIERS).default("low"),
  home_country: z.string().refine((c) => COUNTRY_CODES.has(c), "must be an ISO 3166-1 alpha-2 country code"),
  currency: z.string().refine((c) => CURRENCY_MINOR_UNITS.has(c), "must be an ISO 4217 currency code"),
  per_transaction_limit: limit,
  daily_limit: limit,
});
export type ProfileInput = z.output<typeof ProfileInputSchema>;

/** A stored profile. `version` grows on every write; the cache never lets an older one win. */
export const ProfileSchema = ProfileInputSchema.extend({
  user_id: z.string(),
  version: z.coerce.number().int(),
  updated_at: z.string(),
});
export type Profile = z.output<typeof ProfileSchema>;

import { z } from "zod";
import type { Issue } from "../errors.ts";
import { COUNTRY_CODES } from "./iso3166.ts";
import { CURRENCY_MINOR_UNITS, minorUnits } from "./iso4217.ts";
import { fractionDigits } from "./money.ts";
import { findPans } from "./pan.ts";

/*
 * The transaction message, v1. This zod schema is the single source for HTTP validation, the
 * consumer's decoding, the TypeScript types and schemas/transaction.v1.json (generated from it).
 */

export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;
/** Default of TIMESTAMP_MAX_AGE_HOURS: a timestamp older than this (before receipt) is refused. */
export const DEFAULT_MAX_AGE_MS = 7 * 24 * 3_600_000;
/** A user id: the same rule for transactions, profiles (routes and the table's CHECK) and keys. */
export const USER_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const USER_ID_RULE = "must be 1-64 characters of A-Z a-z 0-9 _ - . :";
export const CHANNELS = ["card_present", "ecommerce", "transfer", "atm", "wallet"] as const;

const AMOUNT_PATTERN = /^(0|[1-9]\d{0,17})(\.\d{1,4})?$/;
const MAX_SAFE_AMOUNT = 1e15; // beyond this a JSON number may not be exact

const currencies = [...CURRENCY_MINOR_UNITS.keys()].sort() as [string, ...string[]];
const countries = [...COUNTRY_CODES].sort() as [string, ...string[]];

const amountString = z
  .string()
  .regex(AMOUNT_PATTERN, {
    message: 'must be a positive decimal string such as "12.50" (at most 18 integer and 4 fraction digits)',
    abort: true,
  })
  .refine((s) => /[1-9]/.test(s), "must be greater than zero");

/** A JSON number is accepted only when its decimal text is exact; it becomes a string at once. */
const amountNumber = z
  .number()
  .refine((n) => n > 0 && n < MAX_SAFE_AMOUNT && AMOUNT_PATTERN.test(String(n)), {
    message: "must be a positive amount; send it as a decimal string to avoid floating-point loss",
  })
  .transform((n) => String(n));

/*
 * Text PostgreSQL can store: no NUL character and no lone UTF-16 surrogate (text, json and jsonb
 * reject both). Without this a message would pass validation and then fail at every insert,
 * stalling its partition (law 4).
 */
const text = (min: number, max: number) =>
  z
    .string()
    .min(min)
    .max(max)
    .refine((s) => !s.includes("\u0000") && s.isWellFormed(), "must be valid Unicode without NUL characters");

/** The earliest event time accepted: PostgreSQL has no year 0, and nothing pays before 1970. */
export const MIN_EVENT_TIME_MS = Date.parse("1970-01-01T00:00:00Z");

const metadata = z
  .record(text(1, 64), text(0, 1024))
  .refine((m) => Object.keys(m).length <= 16, "at most 16 keys")
  .refine((m) => Buffer.byteLength(JSON.stringify(m)) <= 2048, "at most 2 KiB serialized");

/**
 * `now` is the reference time the timestamp is checked against: the receive time over HTTP, the
 * message's Kafka timestamp on the topic (so a replay months later validates as the first read did).
 */
function fields(now: () => number, maxAgeMs: number) {
  return {
    transaction_id: z.uuid("must be a UUID"),
    user_id: z.string().regex(USER_ID_PATTERN, USER_ID_RULE),
    amount: z.union([amountString, amountNumber], { error: "must be a positive decimal string" }),
    currency: z.enum(currencies, "must be an ISO 4217 currency code such as USD"),
    timestamp: z.iso
      .datetime({
        offset: true,
        error: "must be an RFC 3339 timestamp with offset, e.g. 2026-01-31T12:00:00Z",
        abort: true, // one issue: the time checks below need a valid timestamp
      })
      .refine(
        (t) => Date.parse(t) <= now() + MAX_FUTURE_SKEW_MS,
        "must not be more than 5 minutes in the future",
      )
      .refine((t) => Date.parse(t) >= MIN_EVENT_TIME_MS, "must not be before 1970-01-01T00:00:00Z")
      .refine(
        (t) => {
          const ms = Date.parse(t);
          return !(ms >= MIN_EVENT_TIME_MS && ms < now() - maxAgeMs); // one issue per bad timestamp
        },
        `must not be more than ${formatAge(maxAgeMs)} old (TIMESTAMP_MAX_AGE_HOURS)`,
      ),
    merchant_id: text(1, 64),
    merchant_category: z.string().regex(/^\d{4}$/, "must be a 4-digit merchant category code (MCC)"),
    country: z.enum(countries, "must be an ISO 3166-1 alpha-2 country code such as US"),
    channel: z.enum(CHANNELS, `must be one of ${CHANNELS.join(", ")}`),
    device_id: text(1, 128),
    ip: z.union([z.ipv4(), z.ipv6()], { error: "must be an IPv4 or IPv6 address" }),
    metadata,
  };
}

function formatAge(ms: number): string {
  const hours = ms / 3_600_000;
  return hours % 24 === 0 ? `${hours / 24} days` : `${hours} hours`;
}

function common(now: () => number, maxAgeMs: number) {
  const f = fields(now, maxAgeMs);
  return {
    user_id: f.user_id,
    amount: f.amount,
    currency: f.currency,
    timestamp: f.timestamp.optional(),
    merchant_id: f.merchant_id.optional(),
    merchant_category: f.merchant_category.optional(),
    country: f.country.optional(),
    channel: f.channel.optional(),
    device_id: f.device_id.optional(),
    ip: f.ip.optional(),
    metadata: f.metadata.optional(),
  };
}

/** Cross-field rule: no more fraction digits than the currency's minor unit. */
function checkFractionDigits(tx: { amount: string; currency: string }, ctx: z.RefinementCtx): void {
  const digits = minorUnits(tx.currency);
  if (digits !== undefined && fractionDigits(tx.amount) > digits) {
    ctx.addIssue({
      code: "custom",
      path: ["amount"],
      message: `${tx.currency} allows at most ${digits} fraction digit${digits === 1 ? "" : "s"}`,
    });
  }
}

/** What an HTTP client posts: transaction_id and timestamp may be left to the ingress. */
export const createTransactionInputSchema = (now: () => number = Date.now, maxAgeMs = DEFAULT_MAX_AGE_MS) =>
  z
    .strictObject({
      transaction_id: fields(now, maxAgeMs).transaction_id.optional(),
      ...common(now, maxAgeMs),
    })
    .superRefine(checkFractionDigits);
/** What travels on the `transactions` topic: transaction_id always set. */
export const createTransactionSchema = (now: () => number = Date.now, maxAgeMs = DEFAULT_MAX_AGE_MS) =>
  z
    .strictObject({ transaction_id: fields(now, maxAgeMs).transaction_id, ...common(now, maxAgeMs) })
    .superRefine(checkFractionDigits);

export type TransactionInput = z.output<ReturnType<typeof createTransactionInputSchema>>;
export type Transaction = z.output<ReturnType<typeof createTransactionSchema>>;

export type ValidationResult<T> =
  | { ok: true; value: T }
  | { ok: false; code: "validation_failed" | "pan_not_allowed"; issues: Issue[] };

/** zod issues as {path, message}, one per offending field (unknown keys expanded one by one). */
export function toIssues(error: z.ZodError): Issue[] {
  return error.issues.flatMap((i) => {
    if (i.code === "unrecognized_keys") {
      return i.keys.map((k) => ({ path: [...i.path, k].join("."), message: "unknown field" }));
    }
    if (i.path.length === 0) return [{ path: "(body)", message: "must be a JSON object" }];
    if (i.code === "invalid_type" && i.input === undefined) {
      return [{ path: i.path.join("."), message: "is required" }];
    }
    return [{ path: i.path.join(".") || "(body)", message: i.message }];
  });
}

/**
 * Validates a decoded body against a transaction schema, refusing card numbers first (law 7):
 * a PAN anywhere in the body is `pan_not_allowed` whatever else is wrong.
 */
export function validateTransaction<S extends z.ZodType>(
  schema: S,
  body: unknown,
): ValidationResult<z.output<S>> {
  const pans = findPans(body);
  if (pans.length > 0) {
    return {
      ok: false,
      code: "pan_not_allowed",
      issues: pans.map((path) => ({ path, message: "looks like a card number; send a token, never a PAN" })),
    };
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, code: "validation_failed", issues: toIssues(parsed.error) };
}

/** An amount's numeric value as text without trailing fraction zeros ("12.50" → "12.5"), as trim_scale. */
function trimScale(amount: string): string {
  return amount.includes(".") ? amount.replace(/0+$/, "").replace(/\.$/, "") : amount;
}

/**
 * What makes two messages with one transaction_id the same request: user, amount (its value, not
 * its spelling), currency and merchant. The timestamp is not part of it: a body sent twice without
 * one gets two receive times and is still one request. (The store computes the same from a stored
 * row with trim_scale.)
 */
export function payloadFingerprint(
  tx: Pick<Transaction, "user_id" | "amount" | "currency" | "merchant_id">,
): string {
  return JSON.stringify([tx.user_id, trimScale(tx.amount), tx.currency, tx.merchant_id ?? null]);
}

/** A validated transaction as read from the topic, with where it was read. */
export type SourcedTransaction = {
  tx: Transaction;
  eventTimeMs: number;
  /** The message's Kafka timestamp: the history rules' clock. */
  receivedMs: number;
  partition: number;
  offset: number;
};

import { z } from "zod";
import { containsPanText } from "./domain/pan.ts";

/*
 * The value types of the environment variables (src/config.ts parses them): each refuses a bad
 * value with a message that names what it expected.
 */

/** What an API key may do: `ingest` posts and reads transactions; `analyst` works cases and labels
 * and reads; `admin` everything (profiles, rules, lists). */
export const ROLES = ["ingest", "analyst", "supervisor", "admin"] as const;
export type Role = (typeof ROLES)[number];

export const int = (def: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(def);
export const decimal = (def: string) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?$/, "must be a non-negative decimal number")
    .default(def);
/** A probability as a decimal string, 0 to 1 with at most 4 decimals (a model score threshold). */
export const probability = (def: string) =>
  z
    .string()
    .regex(/^(0(\.\d{1,4})?|1(\.0{1,4})?)$/, "must be a probability between 0 and 1 (at most 4 decimals)")
    .default(def);
export const topic = (def: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,249}$/, "must be a Kafka topic name")
    .default(def);

export const brokers = z
  .string()
  .default("127.0.0.1:9092")
  .transform((s) => s.split(",").map((b) => b.trim()))
  .pipe(
    z
      .array(z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, "each broker must be host:port"))
      .min(1, "needs at least one broker"),
  );

export const url = (protocols: readonly string[]) =>
  z.string().refine(
    (s) => {
      try {
        return protocols.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    },
    `must be a URL (${protocols.join(" or ")})`,
  );

/** FX_RATES: "EUR:USD=1.08,GBP:USD=1.27" — amount in the first currency × rate = amount in the second. */
export const fxRates = z
  .string()
  .default("")
  .transform((s, ctx) => {
    const rates: Record<string, string> = {};
    for (const part of s
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean)) {
      const m = /^([A-Z]{3}):([A-Z]{3})=(\d+(?:\.\d+)?)$/.exec(part);
      if (!m) {
        ctx.addIssue({ code: "custom", message: `bad entry "${part}", expected FROM:TO=rate` });
        return z.NEVER;
      }
      rates[`${m[1]}:${m[2]}`] = m[3]!;
    }
    return rates;
  });

/** A key's name, who the audit trail says did what: letters, digits and . _ @ - only. */
export const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export type ApiKey = { role: Role; name: string; key: string };

/**
 * One API_KEYS entry: "role:name:key" (the name is who the audit trail says acted), "role:key"
 * (named after its role), or a bare "key" (an admin key named admin: what every key was before
 * roles). An entry whose first part is not a role (a misspelt `analyts:…`) is refused, never an
 * admin key. Issues name the entry by position, never by its key.
 */
function parseKey(entry: string, index: number, ctx: z.RefinementCtx): ApiKey | undefined {
  const parts = entry.split(":");
  if (parts.length === 1) return { role: "admin", name: "admin", key: entry };
  const role = parts[0]!;
  if (!(ROLES as readonly string[]).includes(role)) {
    ctx.addIssue({
      code: "custom",
      message: `entry ${index + 1} has the unknown role "${role.slice(0, 16)}" (roles: ${ROLES.join(", ")})`,
    });
    return undefined;
  }
  const name = parts.length === 2 ? role : parts[1]!;
  if (!KEY_NAME.test(name) || containsPanText(name)) {
    ctx.addIssue({
      code: "custom",
      message: `entry ${index + 1}: the name must be letters, digits and . _ @ - (1–64), and no card number`,
    });
    return undefined;
  }
  return { role: role as Role, name, key: parts.length === 2 ? parts[1]! : parts.slice(2).join(":") };
}

/** API_KEYS: comma-separated entries, each "role:name:key", "role:key" or "key" (see parseKey). */
export const apiKeys = z
  .string()
  .optional()
  .transform((s, ctx) =>
    (s ?? "")
      .split(",")
      .map((k) => k.trim())
      .filter(Boolean)
      .map((entry, i) => parseKey(entry, i, ctx))
      .filter((k): k is ApiKey => k !== undefined),
  )
  .pipe(
    z.array(
      z.object({
        role: z.enum(ROLES),
        name: z.string(),
        key: z.string().min(16, "each API key must be at least 16 characters"),
      }),
    ),
  )
  .superRefine((keys, ctx) => {
    // The audit trail names the key that acted: two entries of one name could not be told apart.
    const seen = new Map<string, number>();
    const seenKeys = new Map<string, number>();
    keys.forEach((k, i) => {
      const name = seen.get(k.name);
      if (name !== undefined)
        ctx.addIssue({
          code: "custom",
          message: `entries ${name + 1} and ${i + 1} share the name "${k.name}" (each key needs a name of its own: role:name:key)`,
        });
      const key = seenKeys.get(k.key);
      if (key !== undefined)
        ctx.addIssue({ code: "custom", message: `entries ${key + 1} and ${i + 1} are the same key` });
      seen.set(k.name, i);
      seenKeys.set(k.key, i);
    });
  });

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A comma-separated list of durations such as `5s,5m,30m,2h` (units ms, s, m, h, d), in ms. */
export const durations = (def: string) =>
  z
    .string()
    .default(def)
    .transform((s, ctx) => {
      const out: number[] = [];
      for (const part of s.split(",").map((p) => p.trim())) {
        const m = /^(\d+)(ms|s|m|h|d)$/.exec(part);
        if (!m) {
          ctx.addIssue({
            code: "custom",
            message: `"${part}" is not a duration such as 500ms, 5s, 5m, 2h or 1d`,
          });
          return z.NEVER;
        }
        out.push(Number(m[1]) * DURATION_UNITS[m[2]!]!);
      }
      return out;
    })
    .pipe(z.array(z.number()).min(1).max(20, "at most 20 retries"));

import { z } from "zod";

/*
 * The value types of the environment variables (src/config.ts parses them): each refuses a bad
 * value with a message that names what it expected.
 */

/** What an API key may do: `ingest` posts and reads transactions; `analyst` works cases and labels
 * and reads; `admin` everything (profiles, rules, lists). */
export const ROLES = ["ingest", "analyst", "admin"] as const;
export type Role = (typeof ROLES)[number];

export const int = (def: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(def);
export const decimal = (def: string) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?$/, "must be a non-negative decimal number")
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

/** API_KEYS: "key" (an admin key: what every key was before roles), or "role:key" with role ingest,
 * analyst or admin; comma-separated. */
export const apiKeys = z
  .string()
  .optional()
  .transform((s) =>
    (s ?? "")
      .split(",")
      .map((k) => k.trim())
      .filter(Boolean)
      .map((entry) => {
        const m = /^(ingest|analyst|admin):(.*)$/.exec(entry);
        return m ? { role: m[1] as Role, key: m[2]! } : { role: "admin" as Role, key: entry };
      }),
  )
  .pipe(
    z.array(
      z.object({
        role: z.enum(ROLES),
        key: z.string().min(16, "each API key must be at least 16 characters"),
      }),
    ),
  );

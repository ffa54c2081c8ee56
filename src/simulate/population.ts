import type { ProfileInput } from "../domain/profile.ts";

/*
 * The simulator's legitimate population (issue 24): each user has a home country and currency,
 * usual merchants (with their categories), an amount of their own (amounts spread around it), an
 * hour of day they buy around, one or two devices, and a pace. Everything is drawn from a seeded
 * PRNG: the same seed gives the same people.
 */

export type Rand = () => number;

const MARKETS: ReadonlyArray<[country: string, currency: string, ip: string]> = [
  ["US", "USD", "23"],
  ["GB", "GBP", "81"],
  ["DE", "EUR", "91"],
  ["FR", "EUR", "90"],
  ["ES", "EUR", "88"],
  ["CA", "CAD", "24"],
];

/** Countries far from every home market (impossible travel, account takeover). */
export const FAR_COUNTRIES = ["BR", "IN", "JP", "AU", "ZA", "SG"] as const;

/** Merchant categories (MCC) and how much a purchase there costs, in units of the user's typical amount. */
export const CATEGORIES: ReadonlyArray<[mcc: string, scale: number]> = [
  ["5411", 1], // groceries
  ["5812", 0.8], // restaurants
  ["5541", 1.2], // fuel
  ["5912", 0.6], // pharmacies
  ["5732", 4], // electronics
  ["4111", 0.3], // transit
  ["5999", 1.5], // misc retail
];

export type SimUser = {
  userId: string;
  country: string;
  currency: string;
  ipPrefix: string;
  /** The user's typical amount, in major units. */
  typical: number;
  /** Usual merchants: id and category. */
  merchants: Array<{ id: string; mcc: string; scale: number }>;
  devices: string[];
  /** The hour (UTC) the user buys around. */
  hour: number;
  /** Transactions a day, on average. */
  perDay: number;
};

export const pick = <T>(rand: Rand, list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;

/** A roughly log-normal positive number around `median` (spread: the log's standard deviation). */
export function around(rand: Rand, median: number, spread: number): number {
  const normal = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  return median * Math.exp(spread * normal);
}

export function hex(rand: Rand, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += Math.floor(rand() * 16).toString(16);
  return out;
}

/** A UUID (version 4 layout) from the seeded PRNG: runs with one seed make the same ids. */
export function seededUuid(rand: Rand): string {
  const h = hex(rand, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${"89ab"[Math.floor(rand() * 4)]}${h.slice(17, 20)}-${h.slice(20)}`;
}

export function makeUser(rand: Rand, i: number): SimUser {
  const [country, currency, ipPrefix] = pick(rand, MARKETS);
  const n = 3 + Math.floor(rand() * 4);
  return {
    userId: `sim-${String(i).padStart(6, "0")}`,
    country,
    currency,
    ipPrefix,
    typical: Math.round(around(rand, 40, 0.6) * 100) / 100,
    merchants: Array.from({ length: n }, () => {
      const [mcc, scale] = pick(rand, CATEGORIES.slice(0, 4));
      return { id: `m-${country.toLowerCase()}-${hex(rand, 6)}`, mcc, scale };
    }),
    devices: Array.from({ length: rand() < 0.3 ? 2 : 1 }, () => `dev-${hex(rand, 10)}`),
    hour: 8 + Math.floor(rand() * 12),
    perDay: 0.5 + rand() * 2.5,
  };
}

/** The profile the simulated user has (active, low risk, limits well above their habits). */
export function profileOf(u: SimUser): ProfileInput {
  return {
    status: "active",
    risk_tier: "low",
    home_country: u.country,
    currency: u.currency,
    per_transaction_limit: "5000.00",
    daily_limit: "20000.00",
  };
}

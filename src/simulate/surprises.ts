import { ordinaryDays } from "./ordinary-days.ts";
import { around, FAR_COUNTRIES, hex, pick, type Rand, type SimUser } from "./population.ts";
import { type Draft, homeIp } from "./typologies.ts";

/*
 * The noisy world's legitimate surprises (issue 36): what real customers do that the clean world's
 * people never did — travel abroad with their own phone, a new phone, a one-off large purchase
 * (furniture, flights, electronics), rent, transfers to family, subscriptions, a device shared with
 * another member of the household, habits that drift over the month. Each is drawn per user from
 * the simulation's PRNG; none is fraud. The hidden typologies (hidden-typologies.ts) are written
 * to look like these.
 */

const DAY = 86_400_000;
const HOUR = 3_600_000;

/** Categories only the surprises (and the typologies hiding among them) use. */
export const SURPRISE_MCC = {
  furniture: "5712",
  airline: "4511",
  electronics: "5732",
  rent: "6513",
  transfer: "4829",
  subscription: "5815",
  hotel: "7011",
} as const;

const amount = (x: number) => Math.max(0.5, Math.round(x * 100) / 100);
const travelIp = (rand: Rand) =>
  `${100 + Math.floor(rand() * 90)}.${Math.floor(rand() * 255)}.${Math.floor(rand() * 255)}.${1 + Math.floor(rand() * 250)}`;

export type Household = Map<string, SimUser>;

/**
 * The noisy world's shops are shared, as real ones are: each user's usual merchants are drawn from
 * their country's pool (a few popular, most small: the index leans to the front), so a merchant
 * paid by many people in a day is ordinary and "many senders" alone proves nothing.
 */
export function shareMerchants(rand: Rand, users: readonly SimUser[]): void {
  type Merchant = SimUser["merchants"][number];
  const size = Math.max(20, Math.round(users.length / 20));
  const pools = new Map<string, Array<Merchant | undefined>>();
  for (const u of users) {
    const pool = pools.get(u.country) ?? new Array<Merchant | undefined>(size);
    pools.set(u.country, pool);
    const ids = new Set<string>();
    u.merchants = u.merchants
      .map((mine) => {
        const k = Math.floor(rand() ** 2 * size);
        // A merchant is what its first customer made of it (one category, one price level).
        pool[k] ??= { ...mine, id: `m-${u.country.toLowerCase()}-${hex(rand, 6)}` };
        return pool[k];
      })
      .filter((m) => !ids.has(m.id) && ids.add(m.id));
  }
}

/** Pairs of users sharing one device (5 % of users): each is the other's household. */
export function households(rand: Rand, users: readonly SimUser[]): Household {
  const out: Household = new Map();
  for (let i = 0; i + 1 < users.length; i += 2) {
    if (rand() >= 0.05) continue;
    out.set(users[i]!.userId, users[i + 1]!);
    out.set(users[i + 1]!.userId, users[i]!);
  }
  return out;
}

/**
 * A user's ordinary days with drift (their typical amount moves by up to ±35 % over the month,
 * their hour by up to ±3), a new phone from some day on (10 %), and the household's device now
 * and then (users sharing one).
 */
function driftingDays(rand: Rand, u: SimUser, startMs: number, days: number, partner?: SimUser): Draft[] {
  const amountDrift = (rand() - 0.5) * 0.7;
  const hourDrift = (rand() - 0.5) * 6;
  const newPhoneDay = rand() < 0.1 ? 1 + Math.floor(rand() * (days - 1)) : Number.POSITIVE_INFINITY;
  const newPhone = `dev-${hex(rand, 10)}`;
  return ordinaryDays(
    rand,
    u,
    { startMs, days },
    { usual: 0.9, oddMerchants: 2000, spread: 0.4, amountDrift, hourDrift, newPhoneDay, newPhone, partner },
  );
}

/** A trip abroad (8 % of users): 3–7 days in another country, their own phone, new merchants, a hotel. */
function trip(rand: Rand, u: SimUser, startMs: number, days: number): Draft[] {
  if (rand() >= 0.08) return [];
  const country = rand() < 0.5 ? pick(rand, FAR_COUNTRIES) : pick(rand, ["IT", "PT", "NL", "MX", "GR"]);
  const first = 1 + Math.floor(rand() * Math.max(1, days - 8));
  const length = 3 + Math.floor(rand() * 5);
  const device = u.devices[0]!;
  const ip = travelIp(rand);
  const out: Draft[] = [
    {
      user: u,
      atMs: startMs + (first - 1) * DAY + (8 + rand() * 10) * HOUR,
      amount: amount(u.typical * (8 + rand() * 12)),
      merchant: `m-air-${hex(rand, 4)}`,
      mcc: SURPRISE_MCC.airline,
      country: u.country,
      device,
      ip: homeIp(u, device),
      channel: "ecommerce",
    },
  ];
  for (let d = 0; d < length; d++) {
    for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) {
      out.push({
        user: u,
        atMs: startMs + (first + d) * DAY + (9 + rand() * 13) * HOUR,
        amount: amount(around(rand, u.typical * 1.5, 0.6)),
        merchant: `m-${country.toLowerCase()}-${hex(rand, 6)}`,
        mcc: d === 0 && k === 0 ? SURPRISE_MCC.hotel : pick(rand, ["5812", "5999", "4111", "5411"]),
        country,
        device,
        ip,
        channel: rand() < 0.8 ? "card_present" : "ecommerce",
      });
    }
  }
  return out;
}

/** Rent (15 %), family transfers (12 %), subscriptions (30 %): the same payee every month. */
function recurring(rand: Rand, u: SimUser, startMs: number, days: number): Draft[] {
  const out: Draft[] = [];
  const monthly = (mcc: string, merchant: string, value: number, dayOfMonth: number) => {
    for (let day = dayOfMonth; day < days; day += 30) {
      out.push({
        user: u,
        atMs: startMs + day * DAY + (7 + rand() * 12) * HOUR,
        amount: amount(value),
        merchant,
        mcc,
        country: u.country,
        device: u.devices[0]!,
        ip: homeIp(u, u.devices[0]!),
        channel: "ecommerce",
      });
    }
  };
  if (rand() < 0.15)
    monthly(
      SURPRISE_MCC.rent,
      `m-rent-${hex(rand, 6)}`,
      u.typical * (15 + rand() * 25),
      Math.floor(rand() * 5),
    );
  if (rand() < 0.12) {
    const payee = `r-${hex(rand, 8)}`;
    for (let k = 0; k < 1 + Math.floor(rand() * 3); k++)
      monthly(SURPRISE_MCC.transfer, payee, u.typical * (2 + rand() * 6), Math.floor(rand() * days));
  }
  for (let k = rand() < 0.3 ? 1 + Math.floor(rand() * 3) : 0; k > 0; k--)
    monthly(
      SURPRISE_MCC.subscription,
      `m-sub-${Math.floor(rand() * 12)}`,
      5 + rand() * 20,
      Math.floor(rand() * 28),
    );
  return out;
}

/** A one-off large purchase (10 %): furniture, a flight or electronics at 8–30× the usual amount. */
function oneOff(rand: Rand, u: SimUser, startMs: number, days: number): Draft[] {
  if (rand() >= 0.1) return [];
  const mcc = pick(rand, [SURPRISE_MCC.furniture, SURPRISE_MCC.airline, SURPRISE_MCC.electronics]);
  const device = u.devices[0]!;
  return [
    {
      user: u,
      atMs: startMs + Math.floor(rand() * days) * DAY + (9 + rand() * 12) * HOUR,
      amount: amount(u.typical * (8 + rand() * 22)),
      merchant: `m-${u.country.toLowerCase()}-${hex(rand, 6)}`,
      mcc,
      country: u.country,
      device,
      ip: homeIp(u, device),
      channel: rand() < 0.5 ? "card_present" : "ecommerce",
    },
  ];
}

/** Everything legitimate one user of the noisy world does over the days. */
export function noisyLegitimate(
  rand: Rand,
  u: SimUser,
  o: { startMs: number; days: number },
  partner?: SimUser,
): Draft[] {
  return [
    ...driftingDays(rand, u, o.startMs, o.days, partner),
    ...trip(rand, u, o.startMs, o.days),
    ...recurring(rand, u, o.startMs, o.days),
    ...oneOff(rand, u, o.startMs, o.days),
  ];
}

import { around, FAR_COUNTRIES, hex, pick, type Rand, type SimUser } from "./population.ts";

/*
 * The fraud typologies the simulator injects (issue 24), each a function of a victim (or a ring),
 * a start time and the PRNG, returning the fraudulent transactions it makes. Every one is labelled
 * with its typology: the ground truth the detection benchmark scores against.
 */

/** The clean world's seven (issue 24). */
export const CLEAN_TYPOLOGIES = [
  "card_testing",
  "account_takeover",
  "velocity_burst",
  "impossible_travel",
  "high_value_first",
  "slow_drain",
  "collusion",
] as const;
/** Every typology: the clean world's and the three the noisy world adds (hidden-typologies.ts). */
export const TYPOLOGIES = [
  ...CLEAN_TYPOLOGIES,
  "mule_recipient",
  "first_party",
  "new_device_takeover",
] as const;
export type Typology = (typeof TYPOLOGIES)[number];
export type CleanTypology = (typeof CLEAN_TYPOLOGIES)[number];

/** One simulated transaction before its id and formatting. */
export type Draft = {
  user: SimUser;
  atMs: number;
  amount: number;
  merchant: string;
  mcc: string;
  country: string;
  device: string;
  ip: string;
  channel: "card_present" | "ecommerce";
};

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const foreignIp = (rand: Rand) =>
  `${100 + Math.floor(rand() * 90)}.${Math.floor(rand() * 255)}.${Math.floor(rand() * 255)}.${1 + Math.floor(rand() * 250)}`;
const newMerchant = (rand: Rand, country: string) => `m-${country.toLowerCase()}-${hex(rand, 6)}`;
export const homeIp = (u: SimUser, device: string) =>
  `${u.ipPrefix}.${device.charCodeAt(4) % 250}.${device.charCodeAt(5) % 250}.${1 + (device.charCodeAt(6) % 250)}`;

function base(u: SimUser, atMs: number): Omit<Draft, "amount" | "merchant" | "mcc"> {
  const device = u.devices[0]!;
  return { user: u, atMs, country: u.country, device, ip: homeIp(u, device), channel: "ecommerce" };
}

/** Bursts of tiny amounts at many merchants within minutes, from a new device. */
function cardTesting(rand: Rand, u: SimUser, startMs: number): Draft[] {
  const device = `dev-${hex(rand, 10)}`;
  const ip = foreignIp(rand);
  return Array.from({ length: 10 + Math.floor(rand() * 20) }, (_, i) => ({
    ...base(u, startMs + i * (5_000 + rand() * 25_000)),
    amount: Math.round((0.5 + rand() * 1.5) * 100) / 100,
    merchant: newMerchant(rand, u.country),
    mcc: "5999",
    device,
    ip,
  }));
}

/** A new device in a far country, then rising amounts at new merchants within hours. */
function accountTakeover(rand: Rand, u: SimUser, startMs: number): Draft[] {
  const device = `dev-${hex(rand, 10)}`;
  const country = pick(rand, FAR_COUNTRIES);
  const ip = foreignIp(rand);
  return Array.from({ length: 3 + Math.floor(rand() * 4) }, (_, i) => ({
    ...base(u, startMs + i * (10 * MINUTE + rand() * 40 * MINUTE)),
    amount: Math.round(u.typical * (2 + i * 2) * (0.8 + rand() * 0.4) * 100) / 100,
    merchant: newMerchant(rand, country),
    mcc: "5732",
    country,
    device,
    ip,
  }));
}

/** Many purchases at the user's usual merchants within two minutes. */
function velocityBurst(rand: Rand, u: SimUser, startMs: number): Draft[] {
  return Array.from({ length: 8 + Math.floor(rand() * 8) }, (_, i) => {
    const m = pick(rand, u.merchants);
    return {
      ...base(u, startMs + i * (5_000 + rand() * 10_000)),
      amount: Math.round(around(rand, u.typical * m.scale, 0.3) * 100) / 100,
      merchant: m.id,
      mcc: m.mcc,
    };
  });
}

/** A purchase at home, then one in a far country minutes later (card present both times). */
function impossibleTravel(rand: Rand, u: SimUser, startMs: number): Draft[] {
  const country = pick(rand, FAR_COUNTRIES);
  const m = pick(rand, u.merchants);
  const amount = (scale: number) => Math.round(around(rand, u.typical * scale, 0.3) * 100) / 100;
  return [
    { ...base(u, startMs), amount: amount(m.scale), merchant: m.id, mcc: m.mcc, channel: "card_present" },
    {
      ...base(u, startMs + (2 + rand() * 15) * MINUTE),
      amount: amount(2),
      merchant: newMerchant(rand, country),
      mcc: "5999",
      country,
      ip: foreignIp(rand),
      channel: "card_present",
    },
  ];
}

/**
 * A first purchase in a category the user never used — electronics: usual merchants are drawn
 * from the everyday categories only — at 10–30× their typical amount.
 */
function highValueFirst(rand: Rand, u: SimUser, startMs: number): Draft[] {
  return [
    {
      ...base(u, startMs),
      amount: Math.round(u.typical * (10 + rand() * 20) * 100) / 100,
      merchant: newMerchant(rand, u.country),
      mcc: "5732",
    },
  ];
}

/** A little above the user's usual amount, daily for days, at one new merchant. */
function slowDrain(rand: Rand, u: SimUser, startMs: number): Draft[] {
  const merchant = newMerchant(rand, u.country);
  return Array.from({ length: 5 + Math.floor(rand() * 6) }, (_, i) => ({
    ...base(u, startMs + i * DAY + rand() * 2 * HOUR),
    amount: Math.round(u.typical * (1.3 + rand() * 0.3) * 100) / 100,
    merchant,
    mcc: "5999",
  }));
}

/** Many users paying one new merchant within a day (a ring cashing out). */
export function collusion(rand: Rand, ring: SimUser[], startMs: number): Draft[] {
  const merchant = `m-ring-${hex(rand, 6)}`;
  return ring.map((u) => ({
    ...base(u, startMs + rand() * DAY),
    amount: Math.round(u.typical * (3 + rand() * 3) * 100) / 100,
    merchant,
    mcc: "5999",
  }));
}

/** The typologies that strike one user. */
export const SINGLE_VICTIM: Record<
  Exclude<CleanTypology, "collusion">,
  (rand: Rand, u: SimUser, startMs: number) => Draft[]
> = {
  card_testing: cardTesting,
  account_takeover: accountTakeover,
  velocity_burst: velocityBurst,
  impossible_travel: impossibleTravel,
  high_value_first: highValueFirst,
  slow_drain: slowDrain,
};

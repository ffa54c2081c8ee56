import { prng } from "../random.ts";
import { HIDDEN_SINGLE_VICTIM, muleRecipient } from "./hidden-typologies.ts";
import { ordinaryDays, STEADY_HABITS } from "./ordinary-days.ts";
import { makeUser, pick, type Rand, type SimUser, seededUuid } from "./population.ts";
import { households, noisyLegitimate, shareMerchants } from "./surprises.ts";
import { collusion, type Draft, SINGLE_VICTIM, TYPOLOGIES, type Typology } from "./typologies.ts";

/*
 * `sentinel simulate` (issue 24): N users over D days of legitimate behaviour with fraud injected
 * as named typologies, seeded and deterministic. Each transaction comes with its truth: `legit`, or
 * the typology that made it. Pure: the command writes the result where it is asked to.
 */

export type SimTransaction = {
  transaction_id: string;
  user_id: string;
  amount: string;
  currency: string;
  timestamp: string;
  merchant_id: string;
  merchant_category: string;
  country: string;
  channel: "card_present" | "ecommerce";
  device_id: string;
  ip: string;
};

export type Truth = {
  transaction_id: string;
  user_id: string;
  day: number;
  label: "legit" | Typology;
  /**
   * The noisy world's fraud: the day its label (a chargeback, a dispute) reaches the bank — days
   * after it happened — or null when it is never labelled. Absent: known at once (the clean world).
   */
  reported_day?: number | null;
};

/** Whether the truth's label is known by the end of `day` (what a model trained then could see). */
export function fraudKnownBy(t: Truth, day: number): boolean {
  return t.label !== "legit" && t.reported_day !== null && (t.reported_day ?? t.day) <= day;
}

export type SimOptions = {
  seed: number;
  users: number;
  days: number;
  /** The first simulated day starts here (UTC midnight recommended). */
  startMs: number;
  /** Share of users struck by each typology (collusion, mule_recipient: share of users in a ring). */
  mix?: Partial<Record<Typology, number>>;
  /**
   * `clean` (issue 24: steady habits, seven typologies) or `noisy` (issue 36: legitimate surprises,
   * three more typologies hiding among them, labels late or never; surprises.ts).
   */
  world?: "clean" | "noisy";
};

export const DEFAULT_MIX: Record<Typology, number> = {
  card_testing: 0.003,
  account_takeover: 0.003,
  velocity_burst: 0.003,
  impossible_travel: 0.003,
  high_value_first: 0.003,
  slow_drain: 0.003,
  collusion: 0.005,
  mule_recipient: 0,
  first_party: 0,
  new_device_takeover: 0,
};

/** The noisy world's mix: the clean world's typologies, and the three hiding among the surprises. */
export const NOISY_MIX: Record<Typology, number> = {
  ...DEFAULT_MIX,
  mule_recipient: 0.01,
  first_party: 0.004,
  new_device_takeover: 0.004,
};

const DAY = 86_400_000;

/**
 * When a fraud's label reaches the bank in the noisy world: a chargeback 2–15 days later, a
 * first-party dispute 10–40 days later; 15 % of fraud is never reported.
 */
function reportedDay(rand: Rand, day: number, label: Typology): number | null {
  if (rand() < 0.15) return null;
  return label === "first_party" ? day + 10 + Math.floor(rand() * 31) : day + 2 + Math.floor(rand() * 14);
}

/** The whole simulation, in time order, with its truth. */
export function simulate(o: SimOptions): {
  users: SimUser[];
  transactions: SimTransaction[];
  truth: Truth[];
} {
  const rand = prng(o.seed);
  const noisy = o.world === "noisy";
  const mix = { ...(noisy ? NOISY_MIX : DEFAULT_MIX), ...o.mix };
  const users = Array.from({ length: o.users }, (_, i) => makeUser(rand, i + 1));
  const partners = noisy ? households(rand, users) : undefined;
  if (noisy) shareMerchants(rand, users);
  const labelled: Array<{ draft: Draft; label: Truth["label"] }> = [];
  for (const u of users) {
    const days = partners
      ? noisyLegitimate(rand, u, o, partners.get(u.userId))
      : ordinaryDays(rand, u, o, STEADY_HABITS);
    for (const d of days) labelled.push({ draft: d, label: "legit" });
  }
  // Fraud starts on a day after the first (every victim has some history first), at any hour.
  const startOf = () =>
    o.startMs + (1 + Math.floor(rand() * Math.max(1, o.days - 1))) * DAY + rand() * DAY * 0.95;
  for (const typology of TYPOLOGIES) {
    const struck = Math.round(o.users * mix[typology]);
    if (typology === "collusion" || typology === "mule_recipient") {
      const ringOf = typology === "collusion" ? collusion : muleRecipient;
      for (let left = struck; left > 0; ) {
        const size = Math.min(left, 10 + Math.floor(rand() * 20));
        const ring = Array.from({ length: size }, () => pick(rand, users));
        for (const d of ringOf(rand, ring, startOf())) labelled.push({ draft: d, label: typology });
        left -= size;
      }
      continue;
    }
    const strike =
      typology in SINGLE_VICTIM
        ? SINGLE_VICTIM[typology as keyof typeof SINGLE_VICTIM]
        : HIDDEN_SINGLE_VICTIM[typology as keyof typeof HIDDEN_SINGLE_VICTIM];
    for (let k = 0; k < struck; k++) {
      for (const d of strike(rand, pick(rand, users), startOf()))
        labelled.push({ draft: d, label: typology });
    }
  }
  const end = o.startMs + o.days * DAY;
  const kept = labelled.filter((l) => l.draft.atMs < end).sort((a, b) => a.draft.atMs - b.draft.atMs);
  const transactions: SimTransaction[] = [];
  const truth: Truth[] = [];
  for (const { draft: d, label } of kept) {
    const id = seededUuid(rand);
    transactions.push({
      transaction_id: id,
      user_id: d.user.userId,
      amount: d.amount.toFixed(2),
      currency: d.user.currency,
      timestamp: new Date(Math.floor(d.atMs)).toISOString(),
      merchant_id: d.merchant,
      merchant_category: d.mcc,
      country: d.country,
      channel: d.channel,
      device_id: d.device,
      ip: d.ip,
    });
    const day = Math.floor((d.atMs - o.startMs) / DAY) + 1;
    truth.push({
      transaction_id: id,
      user_id: d.user.userId,
      day,
      label,
      ...(noisy && label !== "legit" ? { reported_day: reportedDay(rand, day, label) } : {}),
    });
  }
  return { users, transactions, truth };
}

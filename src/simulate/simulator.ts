import { prng } from "../random.ts";
import { around, makeUser, pick, type Rand, type SimUser, seededUuid } from "./population.ts";
import { collusion, type Draft, homeIp, SINGLE_VICTIM, TYPOLOGIES, type Typology } from "./typologies.ts";

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

export type Truth = { transaction_id: string; user_id: string; day: number; label: "legit" | Typology };

export type SimOptions = {
  seed: number;
  users: number;
  days: number;
  /** The first simulated day starts here (UTC midnight recommended). */
  startMs: number;
  /** Share of users struck by each typology (collusion: share of users in a ring). */
  mix?: Partial<Record<Typology, number>>;
};

export const DEFAULT_MIX: Record<Typology, number> = {
  card_testing: 0.003,
  account_takeover: 0.003,
  velocity_burst: 0.003,
  impossible_travel: 0.003,
  high_value_first: 0.003,
  slow_drain: 0.003,
  collusion: 0.005,
};

const DAY = 86_400_000;

/** A user's ordinary purchases over the days. */
function legitimate(rand: Rand, u: SimUser, o: SimOptions): Draft[] {
  const out: Draft[] = [];
  for (let day = 0; day < o.days; day++) {
    // Poisson-ish count around the user's pace.
    let count = 0;
    for (let k = 0; k < 6; k++) if (rand() < u.perDay / 6) count++;
    for (let i = 0; i < count; i++) {
      const hour = Math.min(23.9, Math.max(0, u.hour + around(rand, 1, 0.6) * (rand() < 0.5 ? -2 : 2)));
      const m =
        rand() < 0.92
          ? pick(rand, u.merchants)
          : { id: `m-${u.country.toLowerCase()}-x${Math.floor(rand() * 500)}`, mcc: "5999", scale: 1.5 };
      const device = rand() < 0.9 ? u.devices[0]! : u.devices.at(-1)!;
      out.push({
        user: u,
        atMs: o.startMs + day * DAY + hour * 3_600_000,
        amount: Math.max(0.5, Math.round(around(rand, u.typical * m.scale, 0.35) * 100) / 100),
        merchant: m.id,
        mcc: m.mcc,
        country: u.country,
        device,
        ip: homeIp(u, device),
        channel: rand() < 0.6 ? "card_present" : "ecommerce",
      });
    }
  }
  return out;
}

/** The whole simulation, in time order, with its truth. */
export function simulate(o: SimOptions): {
  users: SimUser[];
  transactions: SimTransaction[];
  truth: Truth[];
} {
  const rand = prng(o.seed);
  const mix = { ...DEFAULT_MIX, ...o.mix };
  const users = Array.from({ length: o.users }, (_, i) => makeUser(rand, i + 1));
  const labelled: Array<{ draft: Draft; label: Truth["label"] }> = [];
  for (const u of users) for (const d of legitimate(rand, u, o)) labelled.push({ draft: d, label: "legit" });
  // Fraud starts on a day after the first (every victim has some history first), at any hour.
  const startOf = () =>
    o.startMs + (1 + Math.floor(rand() * Math.max(1, o.days - 1))) * DAY + rand() * DAY * 0.95;
  for (const typology of TYPOLOGIES) {
    const struck = Math.round(o.users * mix[typology]);
    if (typology === "collusion") {
      for (let left = struck; left > 0; ) {
        const size = Math.min(left, 10 + Math.floor(rand() * 20));
        const ring = Array.from({ length: size }, () => pick(rand, users));
        for (const d of collusion(rand, ring, startOf())) labelled.push({ draft: d, label: typology });
        left -= size;
      }
      continue;
    }
    for (let k = 0; k < struck; k++) {
      const drafts = SINGLE_VICTIM[typology](rand, pick(rand, users), startOf());
      for (const d of drafts) labelled.push({ draft: d, label: typology });
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
    truth.push({
      transaction_id: id,
      user_id: d.user.userId,
      day: Math.floor((d.atMs - o.startMs) / DAY) + 1,
      label,
    });
  }
  return { users, transactions, truth };
}

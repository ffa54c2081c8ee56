import { around, pick, type Rand, type SimUser } from "./population.ts";
import { type Draft, homeIp } from "./typologies.ts";

/*
 * A user's ordinary purchases over the days, in both worlds (issues 24 and 36): a Poisson-ish
 * count a day around the user's pace, around their hour, mostly at their usual merchants, amounts
 * around their typical one. The noisy world bends these habits (surprises.ts); the clean world
 * keeps them still. Draws from the PRNG in the same order either way, so the clean world is the
 * one it always was.
 */

export type Habits = {
  /** Share of purchases at the usual merchants; the rest at one of `oddMerchants` others. */
  usual: number;
  oddMerchants: number;
  /** The spread (log standard deviation) of amounts around the typical one. */
  spread: number;
  /** How far the typical amount (a factor) and the hour have moved by the last day. */
  amountDrift: number;
  hourDrift: number;
  /** From this day on, every purchase is from `newPhone`. */
  newPhoneDay: number;
  newPhone?: string;
  /** A household member whose phone is used a quarter of the time. */
  partner?: SimUser;
};

export const STEADY_HABITS: Habits = {
  usual: 0.92,
  oddMerchants: 500,
  spread: 0.35,
  amountDrift: 0,
  hourDrift: 0,
  newPhoneDay: Number.POSITIVE_INFINITY,
};

const DAY = 86_400_000;

export function ordinaryDays(
  rand: Rand,
  u: SimUser,
  o: { startMs: number; days: number },
  h: Habits,
): Draft[] {
  const out: Draft[] = [];
  for (let day = 0; day < o.days; day++) {
    const f = day / Math.max(1, o.days - 1);
    let count = 0;
    for (let k = 0; k < 6; k++) if (rand() < u.perDay / 6) count++;
    for (let i = 0; i < count; i++) {
      const hour = Math.min(
        23.9,
        Math.max(0, u.hour + h.hourDrift * f + around(rand, 1, 0.6) * (rand() < 0.5 ? -2 : 2)),
      );
      const m =
        rand() < h.usual
          ? pick(rand, u.merchants)
          : {
              id: `m-${u.country.toLowerCase()}-x${Math.floor(rand() * h.oddMerchants)}`,
              mcc: "5999",
              scale: 1.5,
            };
      let device = day >= h.newPhoneDay ? h.newPhone! : rand() < 0.9 ? u.devices[0]! : u.devices.at(-1)!;
      if (h.partner && rand() < 0.25) device = h.partner.devices[0]!;
      const typical = u.typical * (1 + h.amountDrift * f);
      out.push({
        user: u,
        atMs: o.startMs + day * DAY + hour * 3_600_000,
        amount: Math.max(0.5, Math.round(around(rand, typical * m.scale, h.spread) * 100) / 100),
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

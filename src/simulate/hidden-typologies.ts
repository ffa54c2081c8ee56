import { hex, pick, type Rand, type SimUser } from "./population.ts";
import { SURPRISE_MCC } from "./surprises.ts";
import { type Draft, homeIp } from "./typologies.ts";

/*
 * Three typologies of the noisy world (issue 36), each written to hide among a legitimate surprise
 * of surprises.ts rather than beside it:
 * - mule_recipient (authorised push-payment fraud into a mule account): victims each send one
 *   transfer to the same new recipient within two days — the shape of a family transfer, but the
 *   recipient is paid by many people who never paid it before.
 * - first_party: the customer themself, on their own phone at home, buys two to four expensive
 *   things within a day and disputes them later — the shape of a one-off large purchase.
 * - new_device_takeover (a SIM swap): a new phone in the user's own country and network, then
 *   purchases at 2–6× the usual amount at new online merchants within hours — the shape of a new
 *   phone.
 */

export const HIDDEN_TYPOLOGIES = ["mule_recipient", "first_party", "new_device_takeover"] as const;
export type HiddenTypology = (typeof HIDDEN_TYPOLOGIES)[number];

const HOUR = 3_600_000;
const amount = (x: number) => Math.max(0.5, Math.round(x * 100) / 100);

/** Victims each sending one transfer to one mule within two days. */
export function muleRecipient(rand: Rand, victims: SimUser[], startMs: number): Draft[] {
  const mule = `r-${hex(rand, 8)}`;
  return victims.map((u) => ({
    user: u,
    atMs: startMs + rand() * 48 * HOUR,
    amount: amount(u.typical * (3 + rand() * 7)),
    merchant: mule,
    mcc: SURPRISE_MCC.transfer,
    country: u.country,
    device: u.devices[0]!,
    ip: homeIp(u, u.devices[0]!),
    channel: "ecommerce" as const,
  }));
}

function firstParty(rand: Rand, u: SimUser, startMs: number): Draft[] {
  const device = u.devices[0]!;
  return Array.from({ length: 2 + Math.floor(rand() * 3) }, () => ({
    user: u,
    atMs: startMs + rand() * 20 * HOUR,
    amount: amount(u.typical * (5 + rand() * 15)),
    merchant: `m-${u.country.toLowerCase()}-${hex(rand, 6)}`,
    mcc: pick(rand, [SURPRISE_MCC.electronics, SURPRISE_MCC.furniture, "5999"]),
    country: u.country,
    device,
    ip: homeIp(u, device),
    channel: rand() < 0.3 ? ("card_present" as const) : ("ecommerce" as const),
  }));
}

function newDeviceTakeover(rand: Rand, u: SimUser, startMs: number): Draft[] {
  const device = `dev-${hex(rand, 10)}`;
  return Array.from({ length: 2 + Math.floor(rand() * 4) }, (_, i) => ({
    user: u,
    atMs: startMs + i * (20 * 60_000 + rand() * 2 * HOUR),
    amount: amount(u.typical * (2 + rand() * 4)),
    merchant: `m-${u.country.toLowerCase()}-${hex(rand, 6)}`,
    mcc: pick(rand, [SURPRISE_MCC.electronics, "5999", SURPRISE_MCC.transfer]),
    country: u.country,
    device,
    ip: homeIp(u, device),
    channel: "ecommerce" as const,
  }));
}

export const HIDDEN_SINGLE_VICTIM: Record<
  Exclude<HiddenTypology, "mule_recipient">,
  (rand: Rand, u: SimUser, startMs: number) => Draft[]
> = {
  first_party: firstParty,
  new_device_takeover: newDeviceTakeover,
};

import { Presets, SingleBar } from "cli-progress";
import type { ProfileInput } from "../domain/profile.ts";
import { prng } from "../random.ts";
import type { ProfileStore } from "../store/profile-store.ts";

// Home markets weighted roughly like a European/US card portfolio.
const MARKETS: ReadonlyArray<[country: string, currency: string, weight: number]> = [
  ["US", "USD", 30],
  ["GB", "GBP", 12],
  ["DE", "EUR", 12],
  ["FR", "EUR", 9],
  ["ES", "EUR", 6],
  ["NL", "EUR", 4],
  ["CA", "CAD", 6],
  ["JP", "JPY", 5],
  ["AU", "AUD", 4],
  ["BR", "BRL", 4],
  ["IN", "INR", 4],
  ["MX", "MXN", 2],
  ["CH", "CHF", 2],
];
const TOTAL = MARKETS.reduce((s, m) => s + m[2], 0);

// Limits in major units of USD-like currencies; scaled for currencies with small units.
const SCALE: Record<string, number> = { JPY: 150, INR: 80, MXN: 17, BRL: 5 };

export function userId(i: number): string {
  return `user-${String(i).padStart(7, "0")}`;
}

/** One synthetic profile: mostly active low-risk users, a tail of high-risk and blocked ones. */
export function syntheticProfile(rand: () => number): ProfileInput {
  let pick = rand() * TOTAL;
  let market = MARKETS[0]!;
  for (const m of MARKETS) {
    pick -= m[2];
    if (pick <= 0) {
      market = m;
      break;
    }
  }
  const [home_country, currency] = market;
  const tierRoll = rand();
  const risk_tier = tierRoll < 0.7 ? "low" : tierRoll < 0.92 ? "medium" : "high";
  const status = rand() < 0.02 ? "blocked" : "active";
  const perTx = [250, 500, 1000, 2500, 5000, 10000][Math.floor(rand() * 6)]!;
  const daily = perTx * [2, 3, 5, 10][Math.floor(rand() * 4)]!;
  const scale = SCALE[currency] ?? 1;
  const amount = (n: number) => (currency === "JPY" ? String(n * scale) : `${n * scale}.00`);
  return {
    status,
    risk_tier,
    home_country,
    currency,
    per_transaction_limit: amount(perTx),
    daily_limit: amount(daily),
  };
}

/** Writes `users` profiles (user-0000001 …) in batches, with a progress bar on a terminal. */
export async function seedProfiles(
  store: Pick<ProfileStore, "upsertMany">,
  {
    users,
    batchSize = 5_000,
    seed = 42,
    progress = process.stderr.isTTY,
  }: { users: number; batchSize?: number; seed?: number; progress?: boolean },
): Promise<number> {
  const rand = prng(seed);
  const bar = progress
    ? new SingleBar({ format: "seeding |{bar}| {value}/{total} users | {eta}s left" }, Presets.shades_classic)
    : undefined;
  bar?.start(users, 0);
  let written = 0;
  try {
    for (let start = 1; start <= users; start += batchSize) {
      const rows = [];
      for (let i = start; i < start + batchSize && i <= users; i++)
        rows.push({ userId: userId(i), profile: syntheticProfile(rand) });
      written += await store.upsertMany(rows);
      bar?.update(written);
    }
  } finally {
    bar?.stop();
  }
  return written;
}

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createTransactionSchema } from "../../../src/domain/transaction.ts";
import { type SimTransaction, simulate } from "../../../src/simulate/simulator.ts";
import { CLEAN_TYPOLOGIES, TYPOLOGIES } from "../../../src/simulate/typologies.ts";

const digest = (r: object) => createHash("sha256").update(JSON.stringify(r)).digest("hex");
const START = Date.parse("2026-11-01T00:00:00Z");
const options = { seed: 7, users: 1_000, days: 30, startMs: START };
const run = simulate(options);
const byLabel = (label: string) => run.truth.filter((t) => t.label === label).map((t) => t.transaction_id);
const tx = new Map(run.transactions.map((t) => [t.transaction_id, t]));
const groupByUser = (ids: string[]) =>
  Map.groupBy(
    ids.map((id) => tx.get(id)!),
    (t: SimTransaction) => t.user_id,
  );

describe("the fraud simulator", () => {
  it("is deterministic: the same seed gives the same transactions and truth, another seed others", () => {
    const again = simulate(options);
    expect(digest(again)).toBe(digest(run));
    expect(simulate({ ...options, seed: 8 }).transactions[0]).not.toEqual(run.transactions[0]);
  }, 60_000);

  it("writes transactions the pipeline accepts, in time order, inside the simulated days, with one truth each", () => {
    const schema = createTransactionSchema(() => START + 31 * 86_400_000, 40 * 86_400_000);
    for (const t of run.transactions.slice(0, 5_000))
      expect(schema.safeParse(t).success, JSON.stringify(t)).toBe(true);
    const times = run.transactions.map((t) => Date.parse(t.timestamp));
    expect(times.every((t, i) => i === 0 || t >= times[i - 1]!)).toBe(true);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(START);
    expect(Math.max(...times)).toBeLessThan(START + 30 * 86_400_000);
    expect(run.truth.map((t) => t.transaction_id)).toEqual(run.transactions.map((t) => t.transaction_id));
    expect(new Set(tx.keys()).size).toBe(run.transactions.length);
    // Mostly legitimate, every typology present.
    expect(byLabel("legit").length / run.truth.length).toBeGreaterThan(0.9);
    for (const typology of CLEAN_TYPOLOGIES) expect(byLabel(typology).length, typology).toBeGreaterThan(0);
    // The clean world has none of the noisy world's typologies, and every label is known at once.
    expect(
      run.truth.filter(
        (t) => !(CLEAN_TYPOLOGIES as readonly string[]).includes(t.label) && t.label !== "legit",
      ),
    ).toEqual([]);
    expect(run.truth.some((t) => "reported_day" in t)).toBe(false);
  });

  it("makes each typology look like itself", () => {
    // Card testing: tiny amounts at many merchants within minutes.
    for (const [, list] of groupByUser(byLabel("card_testing"))) {
      expect(list.every((t) => Number(t.amount) <= 2)).toBe(true);
      expect(new Set(list.map((t) => t.merchant_id)).size).toBe(list.length);
    }
    // Velocity burst: at least 8 purchases within 4 minutes.
    for (const [, list] of groupByUser(byLabel("velocity_burst"))) {
      const ts = list.map((t) => Date.parse(t.timestamp)).sort((a, b) => a - b);
      expect(ts.length).toBeGreaterThanOrEqual(8);
      expect(ts.at(-1)! - ts[0]!).toBeLessThan(4 * 60_000);
    }
    // Impossible travel: two countries within 20 minutes.
    for (const [, list] of groupByUser(byLabel("impossible_travel"))) {
      const countries = new Set(list.map((t) => t.country));
      expect(countries.size).toBeGreaterThanOrEqual(2);
    }
    // Collusion: rings paying one merchant.
    const ringMerchants = new Set(byLabel("collusion").map((id) => tx.get(id)!.merchant_id));
    expect(ringMerchants.size).toBeLessThanOrEqual(byLabel("collusion").length / 5);
    // Slow drain: one new merchant, day after day (cut at the end of the simulated month).
    for (const [, list] of groupByUser(byLabel("slow_drain"))) {
      expect(new Set(list.map((t) => t.merchant_id)).size).toBe(1);
      if (list.length < 2) continue;
      expect(new Set(list.map((t) => t.timestamp.slice(0, 10))).size).toBeGreaterThan(1);
    }
  });
});

describe("the noisy world (issue 36)", () => {
  const noisy = simulate({ ...options, seed: 11, world: "noisy" });
  const legit = noisy.transactions.filter((_, i) => noisy.truth[i]!.label === "legit");
  const of = (label: string) => noisy.transactions.filter((_, i) => noisy.truth[i]!.label === label);
  const users = new Map(noisy.users.map((u) => [u.userId, u]));

  it("is deterministic, accepted by the pipeline, and has every typology, the three new ones included", () => {
    expect(digest(simulate({ ...options, seed: 11, world: "noisy" }))).toBe(digest(noisy));
    const schema = createTransactionSchema(() => START + 31 * 86_400_000, 40 * 86_400_000);
    for (const t of noisy.transactions.slice(0, 5_000))
      expect(schema.safeParse(t).success, JSON.stringify(t)).toBe(true);
    for (const typology of TYPOLOGIES) expect(of(typology).length, typology).toBeGreaterThan(0);
  });

  it("has legitimate surprises: rent, family transfers, subscriptions, trips abroad, new phones, large one-offs", () => {
    for (const mcc of ["6513", "4829", "5815", "4511", "7011", "5712"])
      expect(legit.filter((t) => t.merchant_category === mcc).length, mcc).toBeGreaterThan(0);
    // Legitimate purchases abroad, from the user's own first device.
    const abroad = legit.filter((t) => t.country !== users.get(t.user_id)!.country);
    expect(abroad.length).toBeGreaterThan(50);
    expect(abroad.every((t) => users.get(t.user_id)!.devices.includes(t.device_id))).toBe(true);
    // Legitimate purchases from a device the user did not start with (a new phone, the household's).
    expect(legit.filter((t) => !users.get(t.user_id)!.devices.includes(t.device_id)).length).toBeGreaterThan(
      50,
    );
    // Legitimate purchases at 8x or more the user's typical amount.
    expect(legit.filter((t) => Number(t.amount) >= 8 * users.get(t.user_id)!.typical).length).toBeGreaterThan(
      50,
    );
  });

  it("hides each new typology in the shape of a surprise, and reports fraud late or never", () => {
    // Mules: one recipient paid by many users, through the category family transfers use.
    const mules = Map.groupBy(of("mule_recipient"), (t) => t.merchant_id);
    for (const [, list] of mules) expect(new Set(list.map((t) => t.user_id)).size).toBeGreaterThan(1);
    expect(of("mule_recipient").every((t) => t.merchant_category === "4829")).toBe(true);
    // First-party fraud: the user's own device, at home.
    for (const t of of("first_party")) {
      const u = users.get(t.user_id)!;
      expect(u.devices).toContain(t.device_id);
      expect(t.country).toBe(u.country);
    }
    // A SIM swap: a new device, but at home.
    for (const t of of("new_device_takeover")) {
      const u = users.get(t.user_id)!;
      expect(u.devices).not.toContain(t.device_id);
      expect(t.country).toBe(u.country);
    }
    const fraud = noisy.truth.filter((t) => t.label !== "legit");
    const never = fraud.filter((t) => t.reported_day === null).length / fraud.length;
    expect(never).toBeGreaterThan(0.05);
    expect(never).toBeLessThan(0.3);
    expect(fraud.every((t) => t.reported_day === null || t.reported_day! > t.day)).toBe(true);
  });
});

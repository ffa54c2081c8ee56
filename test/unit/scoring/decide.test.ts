import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.ts";
import type { SourcedTransaction } from "../../../src/domain/transaction.ts";
import { defaultRuleSet } from "../../../src/rules/default-rule-set.ts";
import { scoringRules } from "../../../src/rules/scoring-rules.ts";
import { decide } from "../../../src/scoring/decide.ts";
import type { StoredHistoryRow } from "../../../src/store/transaction-store.ts";
import { testProfile } from "../../support/profiles.ts";

/*
 * The decide phase alone: a pure function of (transactions in topic order, profiles, stored
 * history, rule settings). The properties are the laws it carries without any database.
 */

const settings = loadConfig({ RULES_VELOCITY_MAX: "2" }).rules;
const rules = scoringRules(defaultRuleSet(settings), settings.fxRates);
const T0 = Date.parse("2026-06-01T00:00:00Z");
const USERS = ["u0", "u1", "u2"];
const partitionOf = (user: string) => USERS.indexOf(user) % 2;

const profile = (user: string) =>
  testProfile({ user_id: user, per_transaction_limit: "100.00", daily_limit: "150.00" });
const profiles = new Map(USERS.map((u) => [u, profile(u)]));

type Spec = { user: number; cents: number; gapMs: number; eventSkewMs: number };
const spec = fc.record({
  user: fc.integer({ min: 0, max: 2 }),
  cents: fc.integer({ min: 1, max: 9_000 }),
  gapMs: fc.integer({ min: 0, max: 40_000 }),
  eventSkewMs: fc.integer({ min: -86_400_000, max: 300_000 }),
});

/** Transactions in topic order: offsets grow per partition, Kafka timestamps grow with the gaps. */
function build(specs: readonly Spec[], idPrefix = "t"): SourcedTransaction[] {
  const next = [0, 0];
  let clock = T0;
  return specs.map((s, i) => {
    const user = USERS[s.user]!;
    const partition = partitionOf(user);
    clock += s.gapMs;
    return {
      tx: {
        transaction_id: `${idPrefix}${i}`,
        user_id: user,
        amount: `${Math.floor(s.cents / 100)}.${String(s.cents % 100).padStart(2, "0")}`,
        currency: "USD",
      },
      eventTimeMs: clock + s.eventSkewMs,
      receivedMs: clock,
      partition,
      offset: 1_000 + next[partition]!++,
    };
  });
}

const asHistory = (v: SourcedTransaction): StoredHistoryRow => ({
  transactionId: v.tx.transaction_id,
  userId: v.tx.user_id,
  amount: v.tx.amount,
  currency: v.tx.currency,
  receivedMs: v.receivedMs,
  partition: v.partition,
  offset: v.offset,
});

const run = (transactions: readonly SourcedTransaction[], history: readonly StoredHistoryRow[] = []) =>
  decide({
    transactions,
    profiles,
    history,
    rules,
    decidedAt: "2026-06-01T00:00:00.000Z",
  });

const outcome = (m: Map<string, { decision: string; score: number; reasons: string[] }>) =>
  new Map([...m].map(([id, d]) => [id, `${d.decision}/${d.score}/${d.reasons.join(",")}`]));

const specs = fc.array(spec, { minLength: 1, maxLength: 30 });

describe("decide (pure)", () => {
  it("is deterministic", () => {
    fc.assert(
      fc.property(specs, (s) => {
        expect(outcome(run(build(s)))).toEqual(outcome(run(build(s))));
      }),
    );
  });

  it("decides stored history the same as the same transactions earlier in the round", () => {
    fc.assert(
      fc.property(specs, fc.nat(), (s, cut) => {
        const all = build(s);
        const k = cut % all.length;
        const whole = outcome(run(all));
        const split = outcome(run(all.slice(k), all.slice(0, k).map(asHistory)));
        for (const v of all.slice(k))
          expect(split.get(v.tx.transaction_id)).toBe(whole.get(v.tx.transaction_id));
      }),
    );
  });

  it("never counts a transaction as its own history (its stored row at an earlier offset)", () => {
    fc.assert(
      fc.property(specs, (s) => {
        const all = build(s);
        const last = all[all.length - 1]!;
        const self = { ...asHistory(last), offset: last.offset - 1_000 };
        expect(outcome(run(all, [self])).get(last.tx.transaction_id)).toBe(
          outcome(run(all)).get(last.tx.transaction_id),
        );
      }),
    );
  });

  it("counts only what came earlier in the topic: later stored rows change nothing", () => {
    fc.assert(
      fc.property(specs, specs, (s, later) => {
        const all = build(s);
        const after = build(later, "later").map((v) => ({ ...asHistory(v), offset: v.offset + 1_000_000 }));
        expect(outcome(run(all, after))).toEqual(outcome(run(all)));
      }),
    );
  });

  it("decides a transaction_id repeated in a round once", () => {
    fc.assert(
      fc.property(specs, (s) => {
        const all = build(s);
        const repeated = [...all, { ...all[0]!, offset: all[0]!.offset + 500 }];
        const decided = run(repeated);
        expect(decided.size).toBe(all.length);
        expect(outcome(decided)).toEqual(outcome(run(all)));
      }),
    );
  });

  it("is not changed by a permutation of other users' transactions", () => {
    fc.assert(
      fc.property(specs, fc.integer({ min: 0, max: 2 }), fc.nat(), (s, who, seed) => {
        const all = build(s);
        const user = USERS[who]!;
        const mine = all.filter((v) => v.tx.user_id === user);
        const others = all.filter((v) => v.tx.user_id !== user);
        // Shuffle the others deterministically, keep mine in their topic order, interleave anew.
        const shuffled = [...others].sort(
          (a, b) => ((a.offset * 7919 + seed) % 101) - ((b.offset * 7919 + seed) % 101),
        );
        const perUser = new Map<string, SourcedTransaction[]>();
        for (const v of shuffled) perUser.set(v.tx.user_id, [...(perUser.get(v.tx.user_id) ?? []), v]);
        // Other users keep their own topic order (offsets), only their interleaving moves.
        const reordered = [
          ...mine,
          ...[...perUser.values()].flatMap((l) => l.sort((a, b) => a.offset - b.offset)),
        ];
        const before = outcome(run(all));
        const after = outcome(run(reordered));
        for (const v of mine) expect(after.get(v.tx.transaction_id)).toBe(before.get(v.tx.transaction_id));
      }),
    );
  });

  it("does not depend on the client's timestamps at all (issue 11: windows run on Kafka time)", () => {
    fc.assert(
      fc.property(specs, fc.array(fc.integer({ min: -604_800_000, max: 300_000 })), (s, skews) => {
        const all = build(s);
        const moved = all.map((v, i) => ({ ...v, eventTimeMs: v.receivedMs + (skews[i] ?? 0) }));
        expect(outcome(run(moved))).toEqual(outcome(run(all)));
      }),
    );
  });

  it("declines the second of two 90.00 payments against a 150.00 daily limit, whatever their timestamps", () => {
    const [a, b] = build([
      { user: 0, cents: 9_000, gapMs: 0, eventSkewMs: 0 },
      { user: 0, cents: 9_000, gapMs: 1_000, eventSkewMs: -3_600_000 },
    ]);
    const d = run([a!, b!]);
    expect(d.get(a!.tx.transaction_id)!.decision).toBe("approve");
    expect(d.get(b!.tx.transaction_id)!.reasons).toContain("over_daily_limit");
  });
});

import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { defaultRuleSet } from "../../src/rules/default-rule-set.ts";
import type { RuleSet } from "../../src/rules/rule-language.ts";
import { usePipeline } from "../support/pipeline.ts";
import { eventually } from "../support/topics.ts";

/*
 * Issue 37, per-entity snoozes, against the real broker, PostgreSQL and Redis: a snooze silences
 * exactly its rule for exactly its entity until its time, and the decision's reasons say so; it
 * ends at its time (each transaction's own) or when removed with a reason; the API refuses what
 * it cannot honour.
 */

const p = usePipeline({ TOPIC_TRANSACTIONS_PARTITIONS: "1" });
const base = defaultRuleSet(loadConfig({}).rules);
const flagged: RuleSet = {
  ...base,
  rules: [
    ...base.rules,
    {
      id: "flag_merchant_m9",
      description: "test",
      when: { op: "==", args: [{ field: "tx.merchant_id" }, "m9"] },
      score: 60,
    },
  ],
};

async function post(user: string, device = "d-1") {
  const res = await p.request("POST", "/transaction", {
    body: {
      transaction_id: randomUUID(),
      user_id: user,
      amount: "5.00",
      currency: "USD",
      merchant_id: "m9",
      device_id: device,
    },
    headers: { prefer: "wait=10" },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { decision: { reasons: string[]; decision: string } }).decision;
}

describe("snoozes", () => {
  it("silence one rule for one entity until their time, say so in the reasons, and end when removed", async () => {
    const published = await p.request("POST", "/rules", { body: flagged });
    const { version } = (await published.json()) as { version: string };
    expect((await p.request("POST", `/rules/${version}/activate`)).status).toBe(200);
    const snoozed = `snz-${randomUUID().slice(0, 8)}`;
    const other = `snz-${randomUUID().slice(0, 8)}`;
    expect(
      await eventually(async () => (await post(snoozed)).reasons.includes("flag_merchant_m9"), 10_000, 200),
    ).toBe(true);

    // Refusals: two entities, none, an unknown rule, a time in the past.
    const bad = async (body: Record<string, unknown>) =>
      (await p.request("POST", "/snoozes", { body })).status;
    const until = new Date(Date.now() + 8_000).toISOString();
    expect(
      await bad({ rule: "flag_merchant_m9", user_id: snoozed, device_id: "d", until, reason: "x" }),
    ).toBe(400);
    expect(await bad({ rule: "flag_merchant_m9", until, reason: "x" })).toBe(400);
    expect(await bad({ rule: "no_such_rule", user_id: snoozed, until, reason: "x" })).toBe(400);
    expect(
      await bad({ rule: "flag_merchant_m9", user_id: snoozed, until: "2020-01-01T00:00:00Z", reason: "x" }),
    ).toBe(400);

    const created = await p.request("POST", "/snoozes", {
      body: { rule: "flag_merchant_m9", user_id: snoozed, until, reason: "travels for work" },
    });
    expect(created.status).toBe(201);
    const snooze = (await created.json()) as { snooze_id: string; created_by: string };
    // Within the lists' poll: the rule stops counting for this user, and the reasons say so.
    expect(
      await eventually(
        async () => (await post(snoozed)).reasons.some((r) => r.startsWith("snoozed: flag_merchant_m9")),
        8_000,
        100,
      ),
    ).toBe(true);
    const silenced = await post(snoozed);
    expect(silenced.reasons).not.toContain("flag_merchant_m9");
    expect(silenced.reasons.find((r) => r.startsWith("snoozed:"))).toMatch(
      new RegExp(
        `^snoozed: flag_merchant_m9 \\(until ${until.replace(/[.]/g, "\\.")}, by ${snooze.created_by}\\)$`,
      ),
    );
    // Exactly its entity and its rule: another user on the same device and merchant is flagged.
    expect((await post(other)).reasons).toContain("flag_merchant_m9");
    const listed = (await (await p.request("GET", "/snoozes")).json()) as {
      snoozes: Array<{ snooze_id: string }>;
    };
    expect(listed.snoozes.map((s) => s.snooze_id)).toContain(snooze.snooze_id);

    // At its time it ends, with no change to reload: each transaction's own time decides.
    await sleep(Math.max(0, Date.parse(until) - Date.now()) + 200);
    expect((await post(snoozed)).reasons).toContain("flag_merchant_m9");

    // A removal needs a reason, and ends a snooze at once.
    const device = await p.request("POST", "/snoozes", {
      body: {
        rule: "flag_merchant_m9",
        device_id: "d-77",
        until: new Date(Date.now() + 60_000).toISOString(),
        reason: "shared family phone",
      },
    });
    const { snooze_id } = (await device.json()) as { snooze_id: string };
    expect(
      await eventually(
        async () => (await post(other, "d-77")).reasons.some((r) => r.startsWith("snoozed:")),
        8_000,
        100,
      ),
    ).toBe(true);
    expect((await p.request("DELETE", `/snoozes/${snooze_id}`, { body: {} })).status).toBe(400);
    const removed = await p.request("DELETE", `/snoozes/${snooze_id}`, {
      body: { reason: "phone replaced" },
    });
    expect(removed.status).toBe(200);
    expect(await removed.json()).toMatchObject({ remove_reason: "phone replaced" });
    expect(
      await eventually(
        async () => (await post(other, "d-77")).reasons.includes("flag_merchant_m9"),
        8_000,
        100,
      ),
    ).toBe(true);
    expect((await p.request("DELETE", `/snoozes/${snooze_id}`, { body: { reason: "again" } })).status).toBe(
      404,
    );
    const all = (await (await p.request("GET", "/snoozes?all=true")).json()) as { snoozes: unknown[] };
    expect(all.snoozes.length).toBeGreaterThanOrEqual(2);
  });
});

import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { defaultRuleSet } from "../../src/rules/default-rule-set.ts";
import type { RuleSet } from "../../src/rules/rule-language.ts";
import { usePipeline } from "../support/pipeline.ts";
import { eventually } from "../support/topics.ts";

/*
 * Issue 37, lists with expiry, reasons and history, against the real broker, PostgreSQL and Redis:
 * an entry matches the transactions received before its expiry and none after; a removal needs a
 * reason; the history keeps every change with its reason.
 */

const p = usePipeline({ TOPIC_TRANSACTIONS_PARTITIONS: "1" });
const base = defaultRuleSet(loadConfig({}).rules);
const ruleSet: RuleSet = {
  ...base,
  rules: [
    ...base.rules,
    {
      id: "blocked_device",
      description: "the device is on the blocked_devices list",
      when: { op: "in_list", arg: { field: "tx.device_id" }, list: "blocked_devices" },
      score: 100,
      at_least: "decline",
    },
  ],
};

async function post(user: string, extra: Record<string, string> = {}) {
  const res = await p.request("POST", "/transaction", {
    body: { transaction_id: randomUUID(), user_id: user, amount: "5.00", currency: "USD", ...extra },
    headers: { prefer: "wait=10" },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { decision: { reasons: string[]; rules_version: string } }).decision;
}

describe("lists with expiry, reasons and history", () => {
  it("an entry stops matching at its expiry; a removal needs a reason; the history keeps both", async () => {
    await p.request("POST", "/lists/blocked_devices", { body: { add: ["0-placeholder"], reason: "setup" } });
    const { version } = (await (await p.request("POST", "/rules", { body: ruleSet })).json()) as {
      version: string;
    };
    expect((await p.request("POST", `/rules/${version}/activate`)).status).toBe(200);
    // The consumers decide with the set that reads the list.
    expect(
      await eventually(async () => (await post("list-user")).rules_version === version, 10_000, 200),
    ).toBe(true);

    // Issue 37: an entry with an expiry and a reason matches the transactions received before
    // its expiry and none after (no reload needed: the scorer compares each transaction's time).
    const until = `dev-${randomUUID().slice(0, 8)}`;
    const expiresAt = new Date(Date.now() + 6_000).toISOString();
    const timed = await p.request("POST", "/lists/blocked_devices", {
      body: { add: [{ value: until, expires_at: expiresAt, reason: "card-testing ring" }] },
    });
    expect(await timed.json()).toEqual({ name: "blocked_devices", added: 1, removed: 0 });
    expect(
      await eventually(
        async () => (await post("list-user", { device_id: until })).reasons.includes("blocked_device"),
        5_000,
        100,
      ),
    ).toBe(true);
    await sleep(Math.max(0, Date.parse(expiresAt) - Date.now()) + 200);
    expect((await post("list-user", { device_id: until })).reasons).not.toContain("blocked_device");
    const listed = (await (await p.request("GET", "/lists/blocked_devices")).json()) as {
      values: string[];
      entries: Array<{ value: string; expired: boolean; reason: string | null; added_by: string | null }>;
    };
    expect(listed.values).not.toContain(until);
    expect(listed.entries.find((e) => e.value === until)).toMatchObject({
      expired: true,
      reason: "card-testing ring",
    });
    // A removal needs a reason, and the history keeps both changes with theirs.
    const noReason = await p.request("POST", "/lists/blocked_devices", { body: { remove: [until] } });
    expect(noReason.status).toBe(400);
    expect(JSON.stringify(await noReason.json())).toMatch(/a removal needs a reason/);
    const past = await p.request("POST", "/lists/blocked_devices", {
      body: { add: [{ value: "dev-late", expires_at: "2020-01-01T00:00:00Z" }] },
    });
    expect(past.status).toBe(400);
    const removed = await p.request("POST", "/lists/blocked_devices", {
      body: { remove: [until], reason: "ring closed" },
    });
    expect(await removed.json()).toEqual({ name: "blocked_devices", added: 0, removed: 1 });
    const history = (await (await p.request("GET", "/lists/blocked_devices/history")).json()) as {
      history: Array<{ value: string; action: string; reason: string | null; expires_at: string | null }>;
    };
    expect(history.history.filter((h) => h.value === until).map((h) => [h.action, h.reason])).toEqual([
      ["remove", "ring closed"],
      ["add", "card-testing ring"],
    ]);
  });
});

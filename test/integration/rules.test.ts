import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { defaultRuleSet } from "../../src/rules/default-rule-set.ts";
import { type RuleSet, ruleSetVersion } from "../../src/rules/rule-language.ts";
import { createTestContext } from "../support/context.ts";
import { usePipeline } from "../support/pipeline.ts";
import { jsonLines, runSentinel } from "../support/processes.ts";
import { eventually, readAll } from "../support/topics.ts";

/*
 * Issue 13, against the real broker, PostgreSQL and Redis: a rule set activated while traffic flows
 * takes over within 5 s, nothing lost or decided twice; a list change blocks a device within 5 s;
 * the lifecycle commands as an operator runs them.
 */

const p = usePipeline({ TOPIC_TRANSACTIONS_PARTITIONS: "2" });
const base = defaultRuleSet(loadConfig({}).rules);
const withRule = (rule: RuleSet["rules"][number]): RuleSet => ({ ...base, rules: [...base.rules, rule] });

async function post(user: string, extra: Record<string, string> = {}) {
  const id = randomUUID();
  const res = await p.request("POST", "/transaction", {
    body: { transaction_id: id, user_id: user, amount: "5.00", currency: "USD", ...extra },
    headers: { prefer: "wait=10" },
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as {
    decision: { decision: string; reasons: string[]; rules_version: string };
  };
  return { id, ...body.decision };
}

describe("rule sets", () => {
  it("switches running consumers to a newly activated version within 5 s, losing and doubling nothing", async () => {
    const flagAll = withRule({
      id: "flag_all",
      description: "test: everything to review",
      when: true,
      score: 60,
    });
    const before = ruleSetVersion(base);
    const publish = await p.request("POST", "/rules", { body: flagAll });
    expect(publish.status).toBe(201);
    const { version } = (await publish.json()) as { version: string };
    expect(version).toBe(ruleSetVersion(flagAll));

    const sent: Array<{ id: string; at: number; version: string }> = [];
    let activatedAt = 0;
    const traffic = (async () => {
      for (let i = 0; i < 2_000 && (activatedAt === 0 || Date.now() - activatedAt < 7_000); i++) {
        const d = await post(`rules-user-${i % 50}`);
        sent.push({ id: d.id, at: Date.now(), version: d.rules_version });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await p.request("POST", `/rules/${version}/activate`)).status).toBe(200);
    activatedAt = Date.now();
    await traffic;

    expect(sent.filter((s) => s.at < activatedAt).every((s) => s.version === before)).toBe(true);
    expect(sent.filter((s) => s.at > activatedAt + 5_000).length).toBeGreaterThan(0);
    expect(sent.filter((s) => s.at > activatedAt + 5_000).every((s) => s.version === version)).toBe(true);
    const ids = sent.map((s) => s.id);
    const { rows } = await p.db.query(
      "SELECT transaction_id::text AS id, count(*)::int AS n, max(rules_version) AS v FROM decisions WHERE live AND transaction_id = ANY($1::uuid[]) GROUP BY transaction_id",
      [ids],
    );
    expect(rows).toHaveLength(ids.length);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    const stored = new Map(rows.map((r) => [r.id, r.v]));
    expect(sent.every((s) => stored.get(s.id) === s.version)).toBe(true);

    // Roll back: the earlier active version is… none was activated before, so nothing to roll back to.
    expect((await p.request("POST", "/rules/rollback")).status).toBe(409);
  });

  it("blocks a device within 5 s of adding it to a list, without a restart", async () => {
    const ruleSet = withRule({
      id: "blocked_device",
      description: "the device is on the blocked_devices list",
      when: { op: "in_list", arg: { field: "tx.device_id" }, list: "blocked_devices" },
      score: 100,
      at_least: "decline",
    });
    // A list that does not exist is refused at publish (issue 20: before, `in_list` on it was
    // silently false), naming the list and the rule.
    const misspelt = JSON.parse(JSON.stringify(ruleSet).replace('"blocked_devices"', '"blocked_devicez"'));
    const refused = await p.request("POST", "/rules", { body: misspelt });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(await refused.json())).toMatch(
      /rule blocked_device names the list blocked_devicez/,
    );
    // The list exists once it has an entry.
    await p.request("POST", "/lists/blocked_devices", { body: { add: ["0-placeholder"] } });
    const { version } = (await (await p.request("POST", "/rules", { body: ruleSet })).json()) as {
      version: string;
    };
    expect((await p.request("POST", `/rules/${version}/activate`)).status).toBe(200);
    const device = `dev-${randomUUID().slice(0, 8)}`;
    expect(
      await eventually(
        async () => (await post("list-user", { device_id: device })).rules_version === version,
        10_000,
        200,
      ),
    ).toBe(true);
    expect((await post("list-user", { device_id: device })).reasons).not.toContain("blocked_device");

    const added = await p.request("POST", "/lists/blocked_devices", { body: { add: [device] } });
    expect(await added.json()).toEqual({ name: "blocked_devices", added: 1, removed: 0 });
    const listedAt = Date.now();
    expect(
      await eventually(
        async () => (await post("list-user", { device_id: device })).reasons.includes("blocked_device"),
        8_000,
        100,
      ),
    ).toBe(true);
    expect(Date.now() - listedAt).toBeLessThan(5_000 + 1_500);
    const declined = await post("list-user", { device_id: device });
    expect(declined.reasons).toContain("blocked_device");
    expect(await (await p.request("GET", "/lists/blocked_devices")).json()).toMatchObject({
      name: "blocked_devices",
      values: ["0-placeholder", device],
    });

    // Rollback returns to the version active before (flag_all from the test above).
    const rolled = (await (await p.request("POST", "/rules/rollback")).json()) as { active: string };
    expect(rolled.active).not.toBe(version);
  });

  it("rolls back along the activation history: two rollbacks go two versions back (issue 20)", async () => {
    // Before issue 20 a second rollback flipped back to the version the first one undid.
    const versions: string[] = [];
    for (const n of [1, 2, 3]) {
      const set = { ...base, description: `rollback walk ${n} ${randomUUID()}` };
      const { version } = (await (await p.request("POST", "/rules", { body: set })).json()) as {
        version: string;
      };
      expect((await p.request("POST", `/rules/${version}/activate`)).status).toBe(200);
      versions.push(version);
    }
    const rollback = async () =>
      ((await (await p.request("POST", "/rules/rollback")).json()) as { active: string }).active;
    expect(await rollback()).toBe(versions[1]);
    expect(await rollback()).toBe(versions[0]);
    const listed = (await (await p.request("GET", "/rules")).json()) as { active: string };
    expect(listed.active).toBe(versions[0]);
    // Each step is in the audit trail (with auth off, the local admin acted).
    const audit = (await (await p.request("GET", "/audit?action=rules.rollback&limit=2")).json()) as {
      entries: Array<{ actor: string; before: unknown; after: unknown }>;
    };
    expect(audit.entries.map((e) => [e.before, e.after])).toEqual([
      [{ active: versions[1] }, { active: versions[0] }],
      [{ active: versions[2] }, { active: versions[1] }],
    ]);
    expect(audit.entries.every((e) => e.actor === "local")).toBe(true);
  });

  it("validates, publishes, lists, diffs and activates from the command line", async () => {
    const dir = tmpdir();
    const bad = join(dir, `bad-${randomUUID()}.json`);
    await writeFile(
      bad,
      JSON.stringify({
        format: 1,
        thresholds: { review: 90, decline: 80 },
        rules: [{ id: "x", description: "d", when: { op: ">", args: [1] }, score: 10 }],
      }),
    );
    const invalid = await runSentinel(["rules", "validate", bad], p.ctx.env);
    expect(invalid.code).toBe(2);
    expect(invalid.output).toMatch(/thresholds\.review: must not exceed thresholds\.decline/);
    expect(invalid.output).toMatch(/rules\.0\.when/);

    const tighter: RuleSet = {
      ...base,
      rules: base.rules.map((r) =>
        r.id === "velocity"
          ? {
              ...r,
              when: { op: ">", args: [{ op: "+", args: [{ agg: "count", window_seconds: 60 }, 1] }, 3] },
            }
          : r,
      ),
    };
    const file = join(dir, `tighter-${randomUUID()}.json`);
    await writeFile(file, JSON.stringify(tighter));
    expect((await runSentinel(["rules", "validate", file], p.ctx.env)).stdout).toContain(
      ruleSetVersion(tighter),
    );
    expect((await runSentinel(["rules", "publish", file], p.ctx.env)).stdout).toContain(
      `published: ${ruleSetVersion(tighter)}`,
    );
    const diff = await runSentinel(["rules", "diff", ruleSetVersion(tighter), file], p.ctx.env);
    expect(diff.stdout).toContain("(no difference)");
    const diff2 = await runSentinel(["rules", "diff", join("rulesets", "default.json"), file], p.ctx.env);
    expect(diff2.stdout).toMatch(/~ velocity: when/);
    expect((await runSentinel(["rules", "activate", ruleSetVersion(tighter)], p.ctx.env)).code).toBe(0);
    expect((await runSentinel(["rules", "list"], p.ctx.env)).stdout).toMatch(
      new RegExp(`${ruleSetVersion(tighter)}.*yes`),
    );
    expect((await runSentinel(["rules", "activate", "rs-000000000000"], p.ctx.env)).code).toBe(1);
    expect((await runSentinel(["rules", "rollback"], p.ctx.env)).code).toBe(0);
  });

  it("shadows a version: new transactions decided by it too, stored beside, never published; compare shows the moves", async () => {
    const shadowSet = withRule({
      id: "shadow_flag",
      description: "test: all to review",
      when: true,
      score: 60,
    });
    const { version } = (await (await p.request("POST", "/rules", { body: shadowSet })).json()) as {
      version: string;
    };
    const on = await runSentinel(["rules", "shadow", version], p.ctx.env);
    expect(on.code, on.output).toBe(0);
    // Within the refresh interval, new transactions get a shadow decision too.
    let shadowed = "";
    expect(
      await eventually(
        async () => {
          const d = await post(`shadow-user-${randomUUID().slice(0, 6)}`);
          const { rows } = await p.db.query(
            "SELECT decision FROM decisions WHERE transaction_id = $1 AND NOT live AND rules_version = $2",
            [d.id, version],
          );
          if (rows.length === 1) shadowed = d.id;
          return rows.length === 1;
        },
        10_000,
        200,
      ),
    ).toBe(true);
    const more: string[] = [];
    for (let i = 0; i < 5; i++) more.push((await post(`shadow-user-${i}`)).id);
    const { rows } = await p.db.query(
      "SELECT s.decision AS shadow, l.decision AS live, l.rules_version AS live_version FROM decisions s JOIN decisions l ON l.transaction_id = s.transaction_id AND l.live WHERE NOT s.live AND s.rules_version = $1 AND s.transaction_id = ANY($2::uuid[])",
      [version, [shadowed, ...more]],
    );
    expect(rows).toHaveLength(6);
    expect(rows.every((r) => r.shadow !== "approve" && r.live_version !== version)).toBe(true);
    const published = (await readAll(p.ctx.kafka, p.ctx.config.kafka.topics.decisions)).map((m) =>
      JSON.parse(m.value!.toString()),
    );
    expect(published.some((d) => d.rules_version === version)).toBe(false);
    const compare = await runSentinel(["rules", "compare", "--json"], p.ctx.env);
    const c = JSON.parse(compare.stdout) as {
      version: string;
      compared: number;
      moves: Array<{ from: string; to: string; count: number; examples: string[] }>;
    };
    expect(c.version).toBe(version);
    expect(c.compared).toBeGreaterThanOrEqual(6);
    expect(c.moves.every((m) => m.to !== "approve")).toBe(true);
    expect((await runSentinel(["rules", "shadow", "--off"], p.ctx.env)).code).toBe(0);
  });

  it("migrate publishes and activates the default set until an operator activates one (issue 20)", async () => {
    // Before issue 20 a fresh install decided with a version `rules list` did not know.
    const fresh = await createTestContext();
    try {
      const versions = async () =>
        jsonLines<Array<{ version: string; active: boolean }>>(
          await runSentinel(["rules", "list", "--json"], fresh.env),
        ).at(-1)!;
      const activeOf = async () => (await versions()).find((v) => v.active)?.version;
      expect((await runSentinel(["migrate"], fresh.env)).code).toBe(0);
      const first = ruleSetVersion(defaultRuleSet(loadConfig(fresh.env).rules));
      expect(await activeOf()).toBe(first);
      // RULES_* still move the default set while no operator activated a version of their own…
      const tighter = { ...fresh.env, RULES_VELOCITY_MAX: "9" };
      expect((await runSentinel(["migrate"], tighter)).code).toBe(0);
      const second = ruleSetVersion(defaultRuleSet(loadConfig(tighter).rules));
      expect(await activeOf()).toBe(second);
      // …and no longer once one did.
      expect((await runSentinel(["rules", "activate", first], fresh.env)).code).toBe(0);
      expect((await runSentinel(["migrate"], { ...fresh.env, RULES_VELOCITY_MAX: "7" })).code).toBe(0);
      expect(await activeOf()).toBe(first);
    } finally {
      await fresh.cleanup();
    }
  });
});

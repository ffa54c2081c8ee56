import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { defaultRuleSet } from "../../src/rules/default-rule-set.ts";
import type { RuleSet } from "../../src/rules/rule-language.ts";
import { usePipeline } from "../support/pipeline.ts";
import { jsonLines, runSentinel } from "../support/processes.ts";

/*
 * Issue 37, four eyes, against the real PostgreSQL (and the running pipeline): with
 * APPROVALS_REQUIRED=true a change that alters decisions is a proposal, applied only when another
 * name approves it — in the approval's transaction, audited with maker and checker; self-approval
 * is 403, an expired or decided proposal is 409 and never applied, a proposal whose base moved is
 * 409 (change_stale); supervisors decide snoozes only; the command line proposes and approves too.
 */

const ALICE = "alice-admin-key-000001";
const BOB = "bob-admin-key-00000001";
const ANN = "ann-analyst-key-000001";
const SUE = "sue-supervisor-key-001";

const p = usePipeline({
  TOPIC_TRANSACTIONS_PARTITIONS: "1",
  AUTH_DISABLED: "",
  API_KEYS: `admin:alice:${ALICE},admin:bob:${BOB},analyst:ann:${ANN},supervisor:sue:${SUE}`,
  APPROVALS_REQUIRED: "true",
  WEBHOOK_ALLOW_PRIVATE: "true",
});

type Change = { change_id: string; status: string; kind: string; result?: Record<string, unknown> | null };
const call = async (key: string, method: string, path: string, body?: unknown) => {
  const res = await p.request(method, path, { key, body });
  return {
    status: res.status,
    body: (res.status === 204 ? {} : await res.json()) as Record<string, unknown>,
  };
};
const base = defaultRuleSet(loadConfig({}).rules);
const variant = (score: number): RuleSet => ({
  ...base,
  rules: [
    ...base.rules,
    {
      id: `four_eyes_${score}`,
      description: "test",
      when: { op: "==", args: [{ field: "tx.merchant_id" }, "none"] },
      score,
    },
  ],
});
async function publish(score: number): Promise<string> {
  const res = await call(ALICE, "POST", "/rules", variant(score));
  expect([200, 201]).toContain(res.status);
  return res.body.version as string;
}
const active = async () => (await call(BOB, "GET", "/rules")).body.active;

describe("four eyes", () => {
  it("applies an activation only when another admin approves it, audited with maker and checker", async () => {
    const version = await publish(11);
    const before = await active();
    const proposed = await call(ALICE, "POST", `/rules/${version}/activate`);
    expect(proposed.status).toBe(202);
    const change = proposed.body as Change;
    expect(change).toMatchObject({ status: "pending", kind: "rules.activate" });
    expect(await active()).toBe(before);

    const shown = await call(ANN, "GET", `/changes/${change.change_id}`);
    expect(shown.status).toBe(200);
    expect((shown.body.preview as { to: string; diff: string[] }).to).toBe(version);
    expect((shown.body.preview as { diff: string[] }).diff.join("\n")).toContain("four_eyes_11");

    const self = await call(ALICE, "POST", `/changes/${change.change_id}/approve`);
    expect(self.status).toBe(403);
    expect(await active()).toBe(before);
    expect((await call(SUE, "POST", `/changes/${change.change_id}/approve`)).status).toBe(403);
    expect((await call(ANN, "POST", `/changes/${change.change_id}/approve`)).status).toBe(403);

    const approved = await call(BOB, "POST", `/changes/${change.change_id}/approve`);
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({
      status: "approved",
      decided_by: "bob",
      result: { active: version },
    });
    expect(await active()).toBe(version);
    // Decided once: a second approval is refused and changes nothing.
    expect((await call(BOB, "POST", `/changes/${change.change_id}/approve`)).body.error).toBe(
      "change_not_pending",
    );

    const audit = await p.db.query<{ actor: string; action: string }>(
      `SELECT actor, action FROM audit_log WHERE target IN ($1, $2) ORDER BY audit_id`,
      [change.change_id, version],
    );
    const rows = audit.rows.map((r) => `${r.action}:${r.actor}`);
    expect(rows).toEqual(
      expect.arrayContaining(["change.propose:alice", "change.approve:bob", "rules.activate:alice"]),
    );
  });

  it("refuses a proposal whose base moved (409) and one that expired, applying neither", async () => {
    const [b, c] = [await publish(12), await publish(13)];
    const first = (await call(ALICE, "POST", `/rules/${b}/activate`)).body as Change;
    const second = (await call(BOB, "POST", `/rules/${c}/activate`)).body as Change;
    expect((await call(ALICE, "POST", `/changes/${second.change_id}/approve`)).status).toBe(200);
    expect(await active()).toBe(c);
    const stale = await call(BOB, "POST", `/changes/${first.change_id}/approve`);
    expect(stale.status).toBe(409);
    expect(stale.body.error).toBe("change_stale");
    expect(await active()).toBe(c);
    expect((await call(BOB, "GET", `/changes/${first.change_id}`)).body.status).toBe("pending");

    // Expired: the proposal's day has passed (moved back in time, as 24 h later would find it).
    const rollback = (await call(ALICE, "POST", "/rules/rollback")).body as Change;
    await p.db.query(
      `UPDATE changes SET proposed_at = now() - interval '2 days', expires_at = now() - interval '1 day' WHERE change_id = $1`,
      [rollback.change_id],
    );
    expect((await call(BOB, "GET", `/changes/${rollback.change_id}`)).body.status).toBe("expired");
    const expired = await call(BOB, "POST", `/changes/${rollback.change_id}/approve`);
    expect(expired.status).toBe(409);
    expect(expired.body).toMatchObject({ error: "change_not_pending" });
    expect(await active()).toBe(c);
    const listed = (await call(BOB, "GET", "/changes?status=expired")).body.changes as Change[];
    expect(listed.map((x) => x.change_id)).toContain(rollback.change_id);
    expect((await call(BOB, "GET", "/changes?status=bogus")).status).toBe(400);
  });

  it("holds list entries, snoozes and webhook endpoints until approved; rejects with a reason", async () => {
    const list = `fe_${randomUUID().slice(0, 8)}`;
    const added = await call(ALICE, "POST", `/lists/${list}`, { add: ["d-1"], reason: "fraud ring" });
    expect(added.status).toBe(202);
    expect((await call(BOB, "GET", `/lists/${list}`)).body.values).toEqual([]);
    const rejected = await call(BOB, "POST", `/changes/${added.body.change_id}/reject`, {
      reason: "wrong list",
    });
    expect(rejected.body).toMatchObject({ status: "rejected", reason: "wrong list" });
    expect((await call(ALICE, "POST", `/changes/${added.body.change_id}/approve`)).status).toBe(409);
    expect((await call(BOB, "GET", `/lists/${list}`)).body.values).toEqual([]);

    // An analyst's snooze: a supervisor approves it; it is the analyst's snooze once applied.
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const snooze = await call(ANN, "POST", "/snoozes", {
      rule: "velocity",
      user_id: "fe-user",
      until,
      reason: "pays rent",
    });
    expect(snooze.status).toBe(202);
    expect((await call(ANN, "GET", "/snoozes")).body.snoozes).not.toContainEqual(
      expect.objectContaining({ entity_id: "fe-user" }),
    );
    const ok = await call(SUE, "POST", `/changes/${snooze.body.change_id}/approve`);
    expect(ok.status).toBe(200);
    expect(ok.body.result).toMatchObject({ entity_id: "fe-user", created_by: "ann" });

    // A webhook endpoint: the approver receives its secret once; the stored change keeps none.
    const hook = await call(ALICE, "POST", "/webhooks/endpoints", {
      url: "http://127.0.0.1:9/hook",
      events: ["case.opened"],
    });
    expect(hook.status).toBe(202);
    const made = await call(BOB, "POST", `/changes/${hook.body.change_id}/approve`);
    expect(typeof (made.body.result as { secret?: string }).secret).toBe("string");
    const kept = (await call(BOB, "GET", `/changes/${hook.body.change_id}`)).body.result as object;
    expect(kept).not.toHaveProperty("secret");
  });

  it("proposes from the command line and approves there, under another operator's name", async () => {
    const version = await publish(14);
    const env = { ...p.ctx.env, SENTINEL_OPERATOR: "carol" };
    const proposed = await runSentinel(["rules", "activate", version], env);
    expect(proposed.code).toBe(0);
    expect(proposed.stdout).toMatch(/proposed: change [0-9a-f-]{36} \(rules\.activate\)/);
    const id = /change ([0-9a-f-]{36})/.exec(proposed.stdout)![1]!;
    expect(await active()).not.toBe(version);
    const listed = jsonLines<Change[]>(
      await runSentinel(["changes", "list", "--status", "pending", "--json"], env),
    );
    expect(listed[0]!.map((c) => c.change_id)).toContain(id);
    const self = await runSentinel(["changes", "approve", id], env);
    expect(self.code).not.toBe(0);
    expect(self.output).toMatch(/proposer cannot approve/);
    const approved = await runSentinel(["changes", "approve", id], { ...env, SENTINEL_OPERATOR: "dave" });
    expect(approved.code).toBe(0);
    expect(await active()).toBe(version);
  });
});

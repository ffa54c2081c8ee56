import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { usePipeline } from "../support/pipeline.ts";
import { jsonLines, runSentinel } from "../support/processes.ts";
import { eventually, readAll } from "../support/topics.ts";
import { testProducer } from "../support/workload.ts";

/*
 * Issue 14, the analyst's side, against the real broker, PostgreSQL and Redis, with keys of each
 * role: cases opened exactly once, the case workflow and its 403/409 paths, block-user reaching the
 * next decision, labels (stored, published, latest wins) and rule performance (API and CLI).
 */

const INGEST = "ingest-key-0000000001";
const ANALYST = "analyst-key-000000001";
const ADMIN = "admin-key-00000000001";
const ANN = "ann-key-00000000000001";
const BOB = "bob-key-00000000000001";

const p = usePipeline({
  TOPIC_TRANSACTIONS_PARTITIONS: "2",
  AUTH_DISABLED: "",
  API_KEYS: `ingest:${INGEST},analyst:${ANALYST},analyst:ann:${ANN},analyst:bob:${BOB},${ADMIN}`,
});

const call = (
  key: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) => p.request(method, path, { key, body, headers });

async function highRiskProfile(user: string) {
  const res = await call(ADMIN, "PUT", `/users/${user}/profile`, {
    status: "active",
    risk_tier: "high",
    home_country: "US",
    currency: "USD",
    per_transaction_limit: "5000.00",
    daily_limit: "100000.00",
  });
  expect(res.status).toBe(200);
}

/** Posts and waits for the decision (Prefer: wait); returns the transaction id and the decision. */
async function decided(user: string, amount: string, id = randomUUID()) {
  const res = await call(
    INGEST,
    "POST",
    "/transaction",
    { transaction_id: id, user_id: user, amount, currency: "USD" },
    {
      prefer: "wait=10",
    },
  );
  expect(res.status).toBe(200);
  const body = (await res.json()) as { decision: { decision: string; reasons: string[] } };
  return { id, ...body.decision };
}

type CaseBody = {
  case_id: string;
  transaction_id: string;
  status: string;
  assignee: string | null;
  label: string | null;
};

describe("cases", () => {
  it("opens one case per review, exactly once through redelivery and replay", async () => {
    await highRiskProfile("case-a");
    const review = await decided("case-a", "1500.00");
    expect(review.decision).toBe("review");
    const approve = await decided("case-a", "10.00");
    expect(approve.decision).toBe("approve");
    // The same message again on the topic, then a replay of everything.
    const producer = testProducer(p.ctx.kafka);
    await producer.connect();
    const copy = { transaction_id: review.id, user_id: "case-a", amount: "1500.00", currency: "USD" };
    await producer.send({
      topic: p.ctx.config.kafka.topics.transactions,
      acks: -1,
      messages: [{ key: "case-a", value: JSON.stringify(copy) }],
    });
    await producer.disconnect();
    const replay = await runSentinel(["replay", "--from", "earliest", "--json", "--no-progress"], p.ctx.env);
    expect(replay.code, replay.output).toBe(0);
    const { rows } = await p.db.query(
      "SELECT transaction_id::text AS id FROM cases WHERE user_id = 'case-a'",
    );
    expect(rows).toEqual([{ id: review.id }]);
  });

  it("lists cases newest first with a cursor, by status and user", async () => {
    for (let i = 0; i < 3; i++) expect((await decided(`case-ghost-${i}`, "5.00")).decision).toBe("review");
    const first = (await (await call(ANALYST, "GET", "/cases?status=open&limit=2")).json()) as {
      cases: CaseBody[];
      next_cursor: string | null;
    };
    expect(first.cases).toHaveLength(2);
    expect(first.cases[0]!.transaction_id).not.toBe(first.cases[1]!.transaction_id);
    expect(first.next_cursor).not.toBeNull();
    const second = (await (
      await call(ANALYST, "GET", `/cases?status=open&limit=2&cursor=${first.next_cursor}`)
    ).json()) as {
      cases: CaseBody[];
    };
    const ids = [...first.cases, ...second.cases].map((c) => c.case_id);
    expect(new Set(ids).size).toBe(ids.length);
    const ghost = (await (await call(ANALYST, "GET", "/cases?user_id=case-ghost-1")).json()) as {
      cases: CaseBody[];
    };
    expect(ghost.cases).toHaveLength(1);
    expect((await call(ANALYST, "GET", "/cases?status=nope")).status).toBe(400);
  });

  it("claims, refuses a second claimant (409), releases, resolves as fraud blocking the user; the next transaction is declined", async () => {
    await highRiskProfile("case-b");
    const review = await decided("case-b", "2000.00");
    const { cases } = (await (await call(ANALYST, "GET", "/cases?user_id=case-b")).json()) as {
      cases: CaseBody[];
    };
    const id = cases[0]!.case_id;
    const detail = (await (await call(ANALYST, "GET", `/cases/${id}`)).json()) as {
      case: CaseBody & { reasons: string[] };
      transaction: { transaction_id: string };
      history: Array<{ transaction_id: string; decision: string }>;
    };
    expect(detail.transaction.transaction_id).toBe(review.id);
    expect(detail.case.reasons).toContain("high_risk_large_amount");
    expect(detail.history.map((h) => h.transaction_id)).toContain(review.id);

    // Identity comes from the key (issue 20): a claim is ann's because ann's key made it.
    expect((await call(ANN, "POST", `/cases/${id}/claim`)).status).toBe(200);
    expect((await call(ANN, "POST", `/cases/${id}/claim`)).status).toBe(200);
    const taken = await call(BOB, "POST", `/cases/${id}/claim`);
    expect(taken.status).toBe(409);
    expect(await taken.json()).toMatchObject({ error: "case_claimed" });
    // Nobody acts under another's name: a body naming bob with ann's key is refused.
    expect((await call(ANN, "POST", `/cases/${id}/release`, { analyst: "bob" })).status).toBe(403);
    expect((await call(BOB, "POST", `/cases/${id}/release`)).status).toBe(409);
    // A resolve refused with 409 changes nothing: before issue 20 it blocked the user anyway.
    const refused = await call(BOB, "POST", `/cases/${id}/resolve`, { label: "fraud", block_user: true });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ error: "case_claimed" });
    expect(
      ((await (await call(ADMIN, "GET", "/users/case-b/profile")).json()) as { status: string }).status,
    ).toBe("active");
    expect((await call(ANN, "POST", `/cases/${id}/release`)).status).toBe(200);
    // A resolve needs a claim by the same analyst.
    const unclaimed = await call(BOB, "POST", `/cases/${id}/resolve`, { label: "fraud" });
    expect(unclaimed.status).toBe(409);
    expect(await unclaimed.json()).toMatchObject({ error: "case_not_claimed" });
    expect((await call(BOB, "POST", `/cases/${id}/claim`)).status).toBe(200);
    const resolved = await call(BOB, "POST", `/cases/${id}/resolve`, { label: "fraud", block_user: true });
    expect(resolved.status).toBe(200);
    expect(await resolved.json()).toMatchObject({
      status: "resolved",
      label: "fraud",
      assignee: "bob",
      user_blocked: true,
    });
    const again = await call(BOB, "POST", `/cases/${id}/resolve`, { label: "legitimate" });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: "case_resolved" });

    const next = await decided("case-b", "1.00");
    expect(next.decision).toBe("decline");
    expect(next.reasons).toContain("user_blocked");
    expect((await call(ANN, "POST", `/cases/${randomUUID()}/claim`)).status).toBe(404);
    expect((await call(ANN, "POST", "/cases/not-a-uuid/claim")).status).toBe(400);

    // The audit trail, in the same transactions: who did what to this case, and the block.
    const audit = (await (await call(ADMIN, "GET", `/audit?target=${id}&limit=50`)).json()) as {
      entries: Array<{ actor: string; action: string; before: unknown; after: unknown }>;
    };
    expect(audit.entries.map((e) => `${e.actor} ${e.action}`).reverse()).toEqual([
      "ann case.claim",
      "ann case.release",
      "bob case.claim",
      "bob case.resolve",
      "bob label.create",
    ]);
    const block = (await (await call(ADMIN, "GET", "/audit?action=profile.block&target=case-b")).json()) as {
      entries: Array<{ actor: string; before: unknown; after: unknown }>;
    };
    expect(block.entries).toEqual([
      expect.objectContaining({ actor: "bob", before: { status: "active" }, after: { status: "blocked" } }),
    ]);
    expect((await call(ANN, "GET", "/audit")).status).toBe(403);
    const cli = await runSentinel(["audit", "--target", id, "--json"], p.ctx.env);
    expect(cli.code, cli.output).toBe(0);
    expect(jsonLines<{ action: string }>(cli).map((e) => e.action)).toContain("case.resolve");
    // Append-only: PostgreSQL refuses to change or delete it.
    await expect(p.db.query("DELETE FROM audit_log")).rejects.toThrow(/append-only/);
    await expect(p.db.query("UPDATE audit_log SET actor = 'x'")).rejects.toThrow(/append-only/);
  });

  it("publishes a label committed before its publish ever happened, from the outbox (issue 20)", async () => {
    // As if the process died between the commit and the publish: before issue 20 such a label was
    // never published (and a retry got 409 case_resolved).
    await highRiskProfile("case-o");
    const t = await decided("case-o", "10.00"); // approved: fires no rule the performance test counts
    const { rows } = await p.db.query(
      "INSERT INTO labels (transaction_id, label, source) VALUES ($1, 'fraud', 'chargeback') RETURNING label_id",
      [t.id],
    );
    const labelId = Number(rows[0].label_id);
    await p.db.query("INSERT INTO label_outbox (label_id) VALUES ($1)", [labelId]);
    const published = async () =>
      (await readAll(p.ctx.kafka, p.ctx.config.kafka.topics.labels, 5_000))
        .map((m) => JSON.parse(m.value!.toString()) as { label_id: number; transaction_id: string })
        .filter((l) => l.label_id === labelId && l.transaction_id === t.id).length;
    expect(await eventually(async () => (await published()) >= 1, 20_000)).toBe(true);

    // 500 pending labels with 2,000-character notes (~1.1 MB) do not fit one produce request: they
    // are split to fit, not refused for ever.
    const { rows: many } = await p.db.query(
      `INSERT INTO labels (transaction_id, label, source, note)
       SELECT $1, 'legitimate', 'customer', repeat('n', 2000) FROM generate_series(1, 500) RETURNING label_id`,
      [t.id],
    );
    const ids = many.map((r) => Number(r.label_id));
    await p.db.query("INSERT INTO label_outbox (label_id) SELECT unnest($1::int8[])", [ids]);
    const pendingNow = async () =>
      Number(
        (
          await p.db.query(
            "SELECT count(*)::int AS n FROM label_outbox WHERE published_at IS NULL AND label_id = ANY($1::int8[])",
            [ids],
          )
        ).rows[0].n,
      );
    expect(await eventually(async () => (await pendingNow()) === 0, 30_000)).toBe(true);
  });

  it("keeps every label, publishes it on transactions.labels, and the latest wins in rule performance", async () => {
    await highRiskProfile("case-c");
    const t = await decided("case-c", "3000.00"); // review: high_risk_large_amount
    expect(
      (await call(ANALYST, "POST", `/transaction/${t.id}/label`, { label: "legitimate", source: "analyst" }))
        .status,
    ).toBe(201);
    // Issue 35: an analyst cannot make a label look like a bank's chargeback; the feed's key can.
    const posing = await call(ANALYST, "POST", `/transaction/${t.id}/label`, {
      label: "fraud",
      source: "chargeback",
    });
    expect(posing.status).toBe(403);
    const chargeback = await call(INGEST, "POST", `/transaction/${t.id}/label`, { label: "fraud" });
    expect(chargeback.status).toBe(201);
    expect(((await chargeback.json()) as { source: string }).source).toBe("chargeback");
    expect(
      (await call(INGEST, "POST", `/transaction/${t.id}/label`, { label: "fraud", source: "analyst" }))
        .status,
    ).toBe(403);
    expect(
      (
        await call(ANALYST, "POST", `/transaction/${randomUUID()}/label`, {
          label: "fraud",
          source: "customer",
        })
      ).status,
    ).toBe(404);
    expect(
      (await call(ANALYST, "POST", `/transaction/${t.id}/label`, { label: "maybe", source: "x" })).status,
    ).toBe(400);
    const { rows } = await p.db.query(
      "SELECT label, source FROM labels WHERE transaction_id = $1 ORDER BY label_id",
      [t.id],
    );
    expect(rows).toEqual([
      { label: "legitimate", source: "analyst" },
      { label: "fraud", source: "chargeback" },
    ]);
    // Published from the outbox, at least once: readers deduplicate by label_id.
    const labelsOf = async () => {
      const seen = new Map<number, [string | undefined, string]>();
      for (const m of await readAll(p.ctx.kafka, p.ctx.config.kafka.topics.labels)) {
        const l = JSON.parse(m.value!.toString()) as {
          label_id: number;
          transaction_id: string;
          label: string;
        };
        if (l.transaction_id === t.id) seen.set(l.label_id, [m.key?.toString(), l.label]);
      }
      return [...seen.entries()].sort(([a], [b]) => a - b).map(([, v]) => v);
    };
    expect(await eventually(async () => (await labelsOf()).length === 2, 20_000)).toBe(true);
    expect(await labelsOf()).toEqual([
      ["case-c", "legitimate"],
      ["case-c", "fraud"],
    ]);

    const perf = (await (await call(ANALYST, "GET", "/rules/performance")).json()) as {
      rules: Array<{
        reason: string;
        fired: number;
        fraud: number;
        legitimate: number;
        unlabelled: number;
        precision: number | null;
      }>;
      outcomes: Array<{ decision: string; fired: number }>;
    };
    const rule = perf.rules.find((r) => r.reason === "high_risk_large_amount")!;
    const { rows: fired } = await p.db.query(
      "SELECT count(*)::int AS n FROM decisions WHERE live AND 'high_risk_large_amount' = ANY(reasons)",
    );
    expect(rule.fired).toBe(fired[0].n);
    // case-b's case resolved fraud (test above) and case-c's latest label is fraud: both count fraud.
    expect(rule.fraud).toBe(2);
    expect(rule.legitimate).toBe(0);
    expect(rule.unlabelled).toBe(rule.fired - 2);
    expect(rule.precision).toBe(1);
    expect(perf.outcomes.map((o) => o.decision)).toEqual(
      expect.arrayContaining(["approve", "review", "decline"]),
    );

    const cli = await runSentinel(["rules", "performance", "--json"], p.ctx.env);
    expect(cli.code, cli.output).toBe(0);
    const fromCli = jsonLines<typeof perf>(cli)[0]!;
    expect(fromCli.rules.find((r) => r.reason === "high_risk_large_amount")).toEqual(rule);
    const table = await runSentinel(["rules", "performance"], p.ctx.env);
    expect(table.stdout).toMatch(/high_risk_large_amount.*100\.0%/);
    expect((await runSentinel(["rules", "performance", "--since", "yesterday"], p.ctx.env)).code).toBe(2);
    // A range is bounded (issue 20: since=1970 read every decision and every label).
    const wide = await call(ANALYST, "GET", "/rules/performance?since=1970-01-01T00:00:00Z");
    expect(wide.status).toBe(400);
    expect(await wide.json()).toEqual({
      error: "validation_failed",
      issues: [{ path: "since", message: "the range may span at most 92 days" }],
    });
    const cliWide = await runSentinel(["rules", "performance", "--since", "1970-01-01T00:00:00Z"], p.ctx.env);
    expect(cliWide.code).toBe(2);
    expect(cliWide.output).toMatch(/at most 92 days/);
  });

  it("answers 403 naming the role needed, 401 without a key", async () => {
    const r = await call(INGEST, "GET", "/cases");
    expect(r.status).toBe(403);
    expect(await r.json()).toMatchObject({ error: "forbidden", required_role: "analyst" });
    expect(
      (await call(ANALYST, "POST", "/transaction", { user_id: "x", amount: "1", currency: "USD" })).status,
    ).toBe(403);
    expect((await call(ANALYST, "PUT", "/users/x/profile", {})).status).toBe(403);
    expect((await fetch(`${p.base}/cases`)).status).toBe(401);
    expect((await call(ADMIN, "GET", "/cases")).status).toBe(200);
  });
});

import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { usePipeline } from "../support/pipeline.ts";

/*
 * Issue 37, case queues, against the real broker, PostgreSQL and Redis: cases carry a priority, a
 * queue and their age; queues filter by assignee; a supervisor (and no analyst) reassigns and
 * escalates; the case view shows the timeline and the linked cases; a bulk resolution of one
 * device's cases is all or nothing.
 */

const INGEST = "ingest-key-0000000001";
const ANN = "ann-key-00000000000001";
const BOB = "bob-key-00000000000001";
const SUE = "sue-key-00000000000001";
const ADMIN = "admin-key-00000000001";

const p = usePipeline({
  TOPIC_TRANSACTIONS_PARTITIONS: "1",
  AUTH_DISABLED: "",
  API_KEYS: `ingest:${INGEST},analyst:ann:${ANN},analyst:bob:${BOB},supervisor:sue:${SUE},${ADMIN}`,
});

const call = async (key: string, method: string, path: string, body?: unknown, headers = {}) => {
  const res = await p.request(method, path, { key, body, headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
type CaseRow = {
  case_id: string;
  status: string;
  assignee: string | null;
  priority: number;
  queue: string;
  age_seconds: number;
};

async function review(user: string, device: string, amount: string): Promise<string> {
  const id = randomUUID();
  const res = await call(
    INGEST,
    "POST",
    "/transaction",
    { transaction_id: id, user_id: user, amount, currency: "USD", device_id: device, merchant_id: "m-q" },
    { prefer: "wait=10" },
  );
  expect(res.status).toBe(200);
  expect((res.body.decision as { decision: string }).decision).toBe("review");
  return id;
}

async function highRisk(user: string) {
  const res = await call(ADMIN, "PUT", `/users/${user}/profile`, {
    status: "active",
    risk_tier: "high",
    home_country: "US",
    currency: "USD",
    per_transaction_limit: "50000.00",
    daily_limit: "1000000.00",
  });
  expect(res.status).toBe(200);
}

describe("case queues", () => {
  it("prioritise, filter, reassign, escalate, link, and resolve a device's cases all or nothing", async () => {
    const tag = randomUUID().slice(0, 8);
    const [u1, u2, device] = [`q1-${tag}`, `q2-${tag}`, `dev-${tag}`];
    await highRisk(u1);
    await highRisk(u2);
    const burst = [await review(u1, device, "1500.00"), await review(u1, device, "25000.00")];
    const other = await review(u2, device, "1600.00");

    // Queues by priority: every case has a priority, a queue and an age; priorities never rise.
    for (const queue of ["high", "standard"]) {
      const listed = await call(ANN, "GET", `/cases?queue=${queue}&limit=500`);
      expect(listed.status).toBe(200);
      const rows = listed.body.cases as CaseRow[];
      for (const c of rows) expect(c.queue).toBe(queue);
      for (let i = 1; i < rows.length; i++)
        expect(rows[i]!.priority).toBeLessThanOrEqual(rows[i - 1]!.priority);
    }
    const mine = (await call(ANN, "GET", `/cases?user_id=${u1}`)).body.cases as CaseRow[];
    expect(mine).toHaveLength(2);
    const [big, small] = [
      mine.find((c) => c.case_id === burst[1])!,
      mine.find((c) => c.case_id === burst[0])!,
    ];
    expect(big.priority).toBeGreaterThan(small.priority);
    expect(big.age_seconds).toBeGreaterThanOrEqual(0);
    expect((await call(ANN, "GET", "/cases?queue=high&cursor=5")).status).toBe(400);

    // The case view: the user's timeline, the cases sharing the device.
    const view = await call(ANN, "GET", `/cases/${burst[0]}`);
    expect((view.body.history as unknown[]).length).toBe(2);
    const linked = view.body.linked as Array<{ case_id: string; shares: string }>;
    expect(linked).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ case_id: other, shares: "device" }),
        expect.objectContaining({ case_id: burst[1], shares: "device" }),
      ]),
    );
    expect(view.body.explanation).toBeNull();

    // A supervisor reassigns and escalates; an analyst may not.
    expect((await call(ANN, "POST", `/cases/${other}/assign`, { assignee: "ann" })).status).toBe(403);
    expect((await call(ANN, "POST", `/cases/${other}/escalate`, { reason: "x" })).status).toBe(403);
    const assigned = await call(SUE, "POST", `/cases/${other}/assign`, { assignee: "bob" });
    expect(assigned.body).toMatchObject({ status: "claimed", assignee: "bob" });
    const escalated = await call(SUE, "POST", `/cases/${other}/escalate`, { reason: "mule pattern" });
    expect(escalated.body).toMatchObject({
      queue: "escalated",
      escalated_by: "sue",
      escalation_reason: "mule pattern",
    });
    const queue = (await call(ANN, "GET", "/cases?queue=escalated&limit=500")).body.cases as CaseRow[];
    expect(queue.map((c) => c.case_id)).toContain(other);
    const bobs = (await call(ANN, "GET", "/cases?assignee=bob&limit=500")).body.cases as CaseRow[];
    expect(bobs.map((c) => c.case_id)).toEqual([other]);
    const unassigned = (await call(ANN, "GET", `/cases?assignee=none&user_id=${u2}`)).body.cases as CaseRow[];
    expect(unassigned).toHaveLength(0);

    // Bulk: refused whole while another analyst holds one of the device's cases.
    const refused = await call(ANN, "POST", "/cases/resolve-bulk", { device_id: device, label: "fraud" });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe("case_claimed");
    const open = (await call(ANN, "GET", `/cases?user_id=${u1}`)).body.cases as CaseRow[];
    expect(open.every((c) => c.status !== "resolved")).toBe(true);
    // Two users' cases cannot block one user.
    const twoUsers = { device_id: device, label: "fraud", block_user: true };
    expect((await call(BOB, "POST", "/cases/resolve-bulk", twoUsers)).status).toBe(400);
    const done = await call(BOB, "POST", "/cases/resolve-bulk", {
      device_id: device,
      label: "fraud",
      note: "card testing",
    });
    expect(done.status).toBe(200);
    expect((done.body.resolved as string[]).sort()).toEqual([...burst, other].sort());
    for (const id of [...burst, other])
      expect(((await call(ANN, "GET", `/cases/${id}`)).body.case as CaseRow).status).toBe("resolved");
    const labels = await p.db.query(
      "SELECT count(*)::int AS n FROM labels WHERE transaction_id = ANY($1::uuid[])",
      [[...burst, other]],
    );
    expect(labels.rows[0].n).toBe(3);
    const audit = await p.db.query(
      "SELECT actor FROM audit_log WHERE action = 'case.bulk_resolve' AND target = $1",
      [`device:${device}`],
    );
    expect(audit.rows).toEqual([{ actor: "bob" }]);
    expect(
      (await call(BOB, "POST", "/cases/resolve-bulk", { device_id: device, label: "fraud" })).status,
    ).toBe(404);
  });
});

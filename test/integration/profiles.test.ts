import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningIngest } from "../../src/ingest/main.ts";
import { type InProcess, startInProcess } from "../support/in-process.ts";
import { eventually } from "../support/topics.ts";

/* A profile written over HTTP is what the next scored transaction sees: PUT refreshes the Redis
   copy before it answers, through the real ingest, Kafka, consumer, Redis and PostgreSQL. */

let app: InProcess;
let ingest: RunningIngest;

beforeAll(async () => {
  app = await startInProcess({ ingest: true, consumer: true });
  ingest = app.ingest!;
});
afterAll(async () => {
  await app?.stop();
});

const call = (method: string, path: string, body?: unknown) =>
  fetch(`${ingest.address}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

async function decide(user: string, amount: string): Promise<{ decision: string; reasons: string[] }> {
  const id = randomUUID();
  const res = await call("POST", "/transaction", {
    transaction_id: id,
    user_id: user,
    amount,
    currency: "USD",
  });
  expect(res.status).toBe(202);
  let stored: { decision?: { decision: string; reasons: string[] } } = {};
  const found = await eventually(async () => {
    const r = await call("GET", `/transaction/${id}`);
    if (r.status !== 200) return false;
    stored = (await r.json()) as typeof stored;
    return stored.decision !== undefined;
  }, 30_000);
  expect(found).toBe(true);
  return stored.decision!;
}

const profile = (limit: string) => ({
  home_country: "US",
  currency: "USD",
  per_transaction_limit: limit,
  daily_limit: "100000.00",
});

describe("profiles over HTTP", () => {
  it("scores the next transaction with the profile just written (no stale cache)", async () => {
    expect((await decide("carol", "50.00")).reasons).toContain("unknown_user"); // cached as unknown now

    const put = await call("PUT", "/users/carol/profile", profile("100.00"));
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ user_id: "carol", per_transaction_limit: "100.00", version: 1 });
    expect(await decide("carol", "50.00")).toMatchObject({ decision: "approve", score: 0, reasons: [] });

    expect((await call("PUT", "/users/carol/profile", profile("10.00"))).status).toBe(200);
    const after = await decide("carol", "50.00");
    expect(after.decision).toBe("decline");
    expect(after.reasons).toEqual(["over_transaction_limit"]);

    const got = await call("GET", "/users/carol/profile");
    expect(await got.json()).toMatchObject({ per_transaction_limit: "10.00", version: 2 });
  });

  it("validates profile bodies and user ids", async () => {
    const bad = await call("PUT", "/users/dave/profile", { ...profile("abc"), currency: "usd", extra: true });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { issues: Array<{ path: string }> };
    expect(body.issues.map((i) => i.path).sort()).toEqual(["currency", "extra", "per_transaction_limit"]);
    expect((await call("GET", "/users/nobody/profile")).status).toBe(404);
    expect((await call("GET", "/users/bad%20id/profile")).status).toBe(400);
  });
});

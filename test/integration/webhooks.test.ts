import { randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { afterAll, describe, expect, it } from "vitest";
import { defaultRuleSet } from "../../src/rules/default-rule-set.ts";
import { webhookStores } from "../../src/webhooks/main.ts";
import { usePipeline } from "../support/pipeline.ts";
import { jsonLines, runSentinel } from "../support/processes.ts";
import { profileBody } from "../support/profiles.ts";
import { type Answer, payloadOf, type Received, type Receiver, startReceiver } from "../support/receiver.ts";
import { eventually, readAll } from "../support/topics.ts";

/*
 * Issue 23 against the real broker, PostgreSQL and Redis, with real HTTP receivers on loopback:
 * signed deliveries that a Standard Webhooks verifier accepts, retries with one webhook-id, 410,
 * rotation, a hanging receiver beside a fast one, redirects, every event type, the log and replay.
 */

const p = usePipeline(
  {
    WEBHOOK_ALLOW_PRIVATE: "true",
    WEBHOOK_RETRY_SCHEDULE: "100ms,100ms,100ms,100ms,100ms",
    WEBHOOK_TIMEOUT_MS: "20000",
    // "5 days" of failing, shortened: an endpoint failing for 3 s is disabled.
    WEBHOOK_DISABLE_AFTER_MS: "3000",
  },
  { webhooks: true },
);

const receivers: Receiver[] = [];
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
});

async function receiver(respond?: (r: Received, i: number) => Answer): Promise<Receiver> {
  const r = await startReceiver(respond);
  receivers.push(r);
  return r;
}

type Endpoint = { endpoint_id: string; secret: string; enabled: boolean; disabled_reason: string | null };

async function endpoint(url: string, events: string[]): Promise<Endpoint> {
  const res = await p.request("POST", "/webhooks/endpoints", { body: { url, events } });
  expect(res.status).toBe(201);
  return (await res.json()) as Endpoint;
}

/** A profile (active low risk, active high risk, or blocked), then a transaction and its decision. */
async function decide(
  user: string,
  amount = "12.00",
  kind: "low" | "high" | "blocked" = "low",
): Promise<{ id: string; decision: string }> {
  const profile = await p.request("PUT", `/users/${user}/profile`, { body: profileBody(kind) });
  expect(profile.status).toBe(200);
  const id = randomUUID();
  const res = await p.request("POST", "/transaction", {
    body: { transaction_id: id, user_id: user, amount, currency: "USD" },
    headers: { prefer: "wait=10" },
  });
  expect(res.status).toBe(200);
  return { id, decision: ((await res.json()) as { decision: { decision: string } }).decision.decision };
}

const forTx = (r: Receiver, id: string) => r.received.filter((x) => payloadOf(x).data.transaction_id === id);

const headersOf = (r: Received) => ({
  "webhook-id": String(r.headers["webhook-id"]),
  "webhook-timestamp": String(r.headers["webhook-timestamp"]),
  "webhook-signature": String(r.headers["webhook-signature"]),
});

describe("webhooks", () => {
  it("delivers a declined transaction signed; the standardwebhooks verifier accepts it, a wrong secret does not", async () => {
    const r = await receiver();
    const ep = await endpoint(r.url, ["decision.declined"]);
    expect(ep.secret).toMatch(/^whsec_/);
    const { id, decision } = await decide("wh-blocked", "12.00", "blocked");
    expect(decision).toBe("decline");
    expect(await eventually(async () => forTx(r, id).length >= 1, 20_000)).toBe(true);
    const got = forTx(r, id)[0]!;
    const verified = new Webhook(ep.secret).verify(got.body, headersOf(got)) as {
      type: string;
      data: { decision: string };
    };
    expect(verified.type).toBe("decision.declined");
    expect(verified.data.decision).toBe("decline");
    expect(() =>
      new Webhook(`whsec_${Buffer.alloc(24, 7).toString("base64")}`).verify(got.body, headersOf(got)),
    ).toThrow();
    // The secret is never readable again, and is not stored in clear.
    const shown = (await (await p.request("GET", `/webhooks/endpoints/${ep.endpoint_id}`)).json()) as object;
    expect(JSON.stringify(shown)).not.toContain(ep.secret);
    const sealed = await p.db.query("SELECT sealed FROM webhook_secrets WHERE endpoint_id = $1", [
      ep.endpoint_id,
    ]);
    expect(sealed.rows[0].sealed).not.toContain(ep.secret.slice(6));
  });

  it("retries a receiver answering 500 three times, then 200, with the same webhook-id; the log shows each attempt", async () => {
    const r = await receiver((_req, i) => (i < 3 ? 500 : 200));
    const ep = await endpoint(r.url, ["decision.approved"]);
    const { id, decision } = await decide("wh-retry");
    expect(decision).toBe("approve");
    expect(await eventually(async () => forTx(r, id).length >= 4, 20_000)).toBe(true);
    const ids = new Set(forTx(r, id).map((x) => x.headers["webhook-id"]));
    expect(ids.size).toBe(1);
    expect(
      await eventually(async () => {
        const res = await p.request("GET", `/webhooks/endpoints/${ep.endpoint_id}/deliveries`);
        const { deliveries } = (await res.json()) as {
          deliveries: Array<{ status: string; message_id: string; attempts: Array<{ status_code: number }> }>;
        };
        const d = deliveries.find((x) => ids.has(x.message_id));
        return d?.status === "delivered" && d.attempts.map((a) => a.status_code).join() === "500,500,500,200";
      }, 10_000),
    ).toBe(true);
  });

  it("disables an endpoint answering 410 Gone, with an audit entry", async () => {
    const r = await receiver(() => 410);
    const ep = await endpoint(r.url, ["decision.approved"]);
    await decide("wh-gone");
    expect(
      await eventually(async () => {
        const res = await p.request("GET", `/webhooks/endpoints/${ep.endpoint_id}`);
        return ((await res.json()) as Endpoint).enabled === false;
      }, 20_000),
    ).toBe(true);
    const audit = await p.db.query(
      "SELECT actor, action FROM audit_log WHERE target = $1 ORDER BY audit_id",
      [ep.endpoint_id],
    );
    expect(audit.rows.map((a) => a.action)).toEqual(["webhook.create", "webhook.disable"]);
    const before = r.received.length;
    await decide("wh-gone");
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(r.received.length).toBe(before); // nothing more to a disabled endpoint
  });

  it("disables an endpoint whose every attempt failed for WEBHOOK_DISABLE_AFTER_MS, with an audit entry", async () => {
    const r = await receiver(() => 500);
    const ep = await endpoint(r.url, ["decision.approved"]);
    const { id } = await decide("wh-failing");
    expect(await eventually(async () => forTx(r, id).length >= 6, 20_000)).toBe(true); // 1 + 5 retries
    expect(
      ((await (await p.request("GET", `/webhooks/endpoints/${ep.endpoint_id}`)).json()) as Endpoint).enabled,
    ).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 3_200));
    await decide("wh-failing"); // its failures come more than 3 s after the first
    expect(
      await eventually(async () => {
        const res = await p.request("GET", `/webhooks/endpoints/${ep.endpoint_id}`);
        return ((await res.json()) as Endpoint).disabled_reason?.startsWith("every attempt failed") === true;
      }, 20_000),
    ).toBe(true);
    const audit = await p.db.query(
      "SELECT actor, role, action FROM audit_log WHERE target = $1 ORDER BY audit_id",
      [ep.endpoint_id],
    );
    expect(audit.rows.at(-1)).toEqual({ actor: "webhooks", role: "system", action: "webhook.disable" });
  });

  it("signs with the old and the new secret during a rotation's overlap", async () => {
    const r = await receiver();
    const ep = await endpoint(r.url, ["decision.approved"]);
    const rotated = await p.request("POST", `/webhooks/endpoints/${ep.endpoint_id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    const { secret } = (await rotated.json()) as { secret: string };
    expect(secret).not.toBe(ep.secret);
    await new Promise((resolve) => setTimeout(resolve, 1_200)); // the dispatcher reads secrets every second
    const { id } = await decide("wh-rotate");
    expect(await eventually(async () => forTx(r, id).length >= 1, 20_000)).toBe(true);
    const got = forTx(r, id)[0]!;
    expect(String(got.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    expect(new Webhook(ep.secret).verify(got.body, headersOf(got))).toBeTruthy();
    expect(new Webhook(secret).verify(got.body, headersOf(got))).toBeTruthy();
  });

  it("revokes the old secret at once with overlap_ms 0; a new URL comes with a new secret (issue 35)", async () => {
    const r = await receiver();
    const ep = await endpoint(r.url, ["decision.approved"]);
    const rotated = await p.request("POST", `/webhooks/endpoints/${ep.endpoint_id}/rotate-secret`, {
      body: { overlap_ms: 0 },
    });
    expect(rotated.status).toBe(200);
    const { secret } = (await rotated.json()) as { secret: string };
    await new Promise((resolve) => setTimeout(resolve, 1_200)); // the dispatcher reads secrets every second
    const { id } = await decide("wh-revoke");
    expect(await eventually(async () => forTx(r, id).length >= 1, 20_000)).toBe(true);
    const got = forTx(r, id)[0]!;
    expect(String(got.headers["webhook-signature"]).split(" ")).toHaveLength(1);
    expect(new Webhook(secret).verify(got.body, headersOf(got))).toBeTruthy();
    expect(() => new Webhook(ep.secret).verify(got.body, headersOf(got))).toThrow();

    // The endpoint moves to another receiver: the secret the old one saw never signs for the new.
    const moved = await receiver();
    const patched = await p.request("PATCH", `/webhooks/endpoints/${ep.endpoint_id}`, {
      body: { url: moved.url.replace("http://", "HTTP://") },
    });
    expect(patched.status).toBe(200);
    const after = (await patched.json()) as { secret?: string; url: string };
    expect(after.secret).toMatch(/^whsec_/);
    expect(after.url).toBe(new URL(moved.url).href); // stored normalised
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const next = await decide("wh-moved");
    expect(await eventually(async () => forTx(moved, next.id).length >= 1, 20_000)).toBe(true);
    const there = forTx(moved, next.id)[0]!;
    expect(String(there.headers["webhook-signature"]).split(" ")).toHaveLength(1);
    expect(new Webhook(after.secret!).verify(there.body, headersOf(there))).toBeTruthy();
    expect(() => new Webhook(secret).verify(there.body, headersOf(there))).toThrow();
  });

  it("dead-letters what on sentinel.events is no event of ours: never signed nor sent (issue 35)", async () => {
    const r = await receiver();
    await endpoint(r.url, ["rules.activated", "case.resolved"]);
    const forged = {
      event_id: 999_999,
      type: "rules.activated",
      at: new Date().toISOString(),
      data: { version: "rs-0123456789ab", previous: null, activated_by: "ops", note: "pay me" },
    };
    const producer = p.ctx.kafka.producer();
    await producer.connect();
    try {
      await producer.send({
        topic: p.ctx.config.kafka.topics.events,
        acks: -1,
        messages: [
          { key: "forged", value: JSON.stringify(forged) },
          { key: "junk", value: "not json" },
        ],
      });
    } finally {
      await producer.disconnect();
    }
    const letters = async () =>
      (await readAll(p.ctx.kafka, p.ctx.config.kafka.topics.dlq)).filter(
        (m) => String(m.headers?.["x-error-reason"]) === "invalid_event",
      );
    expect(await eventually(async () => (await letters()).length === 2, 30_000)).toBe(true);
    const sources = (await letters()).map((m) => String(m.headers?.["x-source-topic"]));
    expect(new Set(sources)).toEqual(new Set([p.ctx.config.kafka.topics.events]));
    expect(r.received.filter((x) => payloadOf(x).data?.note === "pay me")).toHaveLength(0);
  });

  it("keeps delivering to a fast receiver while another hangs", async () => {
    const slow = await receiver(() => "hang");
    const fast = await receiver();
    await endpoint(slow.url, ["decision.approved"]);
    await endpoint(fast.url, ["decision.approved"]);
    const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => decide(`wh-fast-${i}`)));
    expect(await eventually(async () => ids.every(({ id }) => forTx(fast, id).length >= 1), 15_000)).toBe(
      true,
    );
    // Everything reached the fast receiver while the slow one still holds its requests unanswered.
    expect(slow.hanging()).toBeGreaterThan(0);
    expect(slow.received.length).toBe(slow.hanging());
  });

  it("does not follow redirects", async () => {
    const target = await receiver();
    const redirecting = await receiver(() => ({ status: 302, headers: { location: target.url } }));
    const ep = await endpoint(redirecting.url, ["decision.approved"]);
    const { id } = await decide("wh-redirect");
    expect(await eventually(async () => forTx(redirecting, id).length >= 2, 20_000)).toBe(true);
    expect(target.received).toHaveLength(0);
    const res = await p.request("GET", `/webhooks/endpoints/${ep.endpoint_id}/deliveries`);
    const { deliveries } = (await res.json()) as {
      deliveries: Array<{ last_status: number; last_error: string }>;
    };
    expect(deliveries[0]).toMatchObject({ last_status: 302, last_error: "redirect not followed" });
  });

  it("delivers every event type: review and its case, the resolution and its label, a rule activation", async () => {
    const r = await receiver();
    const types = ["decision.review", "case.opened", "case.resolved", "label.created", "rules.activated"];
    await endpoint(r.url, types);
    const { id, decision } = await decide("wh-case", "1500.00", "high");
    expect(decision).toBe("review");
    expect((await p.request("POST", `/cases/${id}/claim`)).status).toBe(200);
    const resolved = await p.request("POST", `/cases/${id}/resolve`, { body: { label: "fraud" } });
    expect(resolved.status).toBe(200);
    const published = await p.request("POST", "/rules", { body: defaultRuleSet(p.ctx.config.rules) });
    const rules = (await published.json()) as { version: string };
    expect((await p.request("POST", `/rules/${rules.version}/activate`)).status).toBe(200);
    const seen = () => new Set(r.received.map((x) => payloadOf(x).type));
    expect(await eventually(async () => types.every((t) => seen().has(t)), 20_000)).toBe(true);
    const byType = Object.fromEntries(r.received.map((x) => [payloadOf(x).type, payloadOf(x)]));
    expect(byType["case.opened"]!.data).toMatchObject({ case_id: id, status: "open" });
    expect(byType["case.resolved"]!.data).toMatchObject({ case_id: id, label: "fraud" });
    expect(byType["label.created"]!.data).toMatchObject({ transaction_id: id, label: "fraud" });
    expect(byType["rules.activated"]!.data).toMatchObject({ version: rules.version });
  });

  it("redelivers one delivery and replays a time range with the same webhook-ids (API and CLI)", async () => {
    const r = await receiver();
    const ep = await endpoint(r.url, ["decision.approved"]);
    const since = new Date().toISOString();
    const { id } = await decide("wh-replay");
    expect(await eventually(async () => forTx(r, id).length === 1, 20_000)).toBe(true);
    const firstId = forTx(r, id)[0]!.headers["webhook-id"];
    const log = (await (
      await p.request("GET", `/webhooks/endpoints/${ep.endpoint_id}/deliveries`)
    ).json()) as {
      deliveries: Array<{ delivery_id: number }>;
    };
    const again = await p.request("POST", `/webhooks/deliveries/${log.deliveries[0]!.delivery_id}/redeliver`);
    expect(again.status).toBe(202);
    expect(await eventually(async () => forTx(r, id).length === 2, 20_000)).toBe(true);
    const cli = await runSentinel(
      ["webhooks", "replay", "--endpoint", ep.endpoint_id, "--since", since, "--json"],
      p.ctx.env,
    );
    expect(cli.code, cli.output).toBe(0);
    expect(jsonLines<{ deliveries: number }>(cli)[0]!.deliveries).toBe(1);
    expect(await eventually(async () => forTx(r, id).length === 3, 20_000)).toBe(true);
    expect(new Set(forTx(r, id).map((x) => x.headers["webhook-id"]))).toEqual(new Set([firstId]));
  });

  it("refuses private and link-local addresses unless allowed, before any connection (CLI, default config)", async () => {
    const env = { ...p.ctx.env, WEBHOOK_ALLOW_PRIVATE: "false" };
    for (const url of [
      "http://169.254.169.254/latest/meta-data",
      "http://10.0.0.8/hook",
      "http://[::1]:9/x",
      "http://localhost:9/x",
    ]) {
      const run = await runSentinel(["webhooks", "add", url, "--events", "decision.declined"], env);
      expect(run.code, url).toBe(2);
      expect(run.output).toContain("refused");
    }
    const bad = await p.request("POST", "/webhooks/endpoints", {
      body: { url: "ftp://example.test/x", events: ["nope"] },
    });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { issues: Array<{ path: string }> };
    expect(body.issues.map((i) => i.path).sort()).toEqual(["events.0", "url"]);
  });
});

describe("webhook failing streaks", () => {
  it("starts a streak on failure, clears it on success, and names endpoints failing longer than the limit", async () => {
    const { endpoints, deliveries } = webhookStores(p.rt);
    const { endpoint } = await endpoints.create(
      { url: "https://hooks.example.test/x", events: ["decision.declined"] },
      { name: "t", role: "admin" },
    );
    const id = endpoint.endpoint_id;
    expect(await deliveries.markStreaks([], [id], 60_000)).toEqual([]); // failing, not for long yet
    expect((await endpoints.get(id))!.failing_since).not.toBeNull();
    expect(await deliveries.markStreaks([], [id], 0)).toEqual([id]); // past the limit
    await deliveries.markStreaks([id], [], 0);
    expect((await endpoints.get(id))!.failing_since).toBeNull();
    expect(await endpoints.disable(id, "every attempt failed for 5 days")).toBe(true);
    expect(await endpoints.disable(id, "again")).toBe(false);
    expect((await endpoints.get(id))!).toMatchObject({
      enabled: false,
      disabled_reason: "every attempt failed for 5 days",
    });
  });
});

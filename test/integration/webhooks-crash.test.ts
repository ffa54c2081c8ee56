import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { usePipeline } from "../support/pipeline.ts";
import { type Proc, spawnSentinel } from "../support/processes.ts";
import { profileBody } from "../support/profiles.ts";
import { payloadOf, type Receiver, startReceiver } from "../support/receiver.ts";
import { eventually } from "../support/topics.ts";

/*
 * Issue 23: a delivery process SIGKILLed with deliveries in flight loses no event. The delivery
 * runs as its own `sentinel webhooks` process; the receiver answers slowly so that requests are
 * out when the process dies. After a restart every event arrives at least once, and an event sent
 * twice carries the same webhook-id both times.
 */

const p = usePipeline({
  WEBHOOK_ALLOW_PRIVATE: "true",
  WEBHOOK_TIMEOUT_MS: "2000",
  CONSUMER_SESSION_TIMEOUT_MS: "6000",
});

let r: Receiver | undefined;
let proc: Proc | undefined;
afterAll(async () => {
  await proc?.stop("SIGKILL");
  await r?.close();
});

describe("webhook delivery process", () => {
  it("loses no event when SIGKILLed mid-flight; a resent event keeps its webhook-id", async () => {
    r = await startReceiver(() => ({ status: 200, delayMs: 300 }));
    const res = await p.request("POST", "/webhooks/endpoints", {
      body: { url: r.url, events: ["decision.approved"] },
    });
    expect(res.status).toBe(201);
    proc = spawnSentinel(["webhooks"], p.ctx.env);
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const user = `crash-${i}`;
        const profile = await p.request("PUT", `/users/${user}/profile`, { body: profileBody() });
        expect(profile.status).toBe(200);
        const id = randomUUID();
        ids.push(id);
        const tx = await p.request("POST", "/transaction", {
          body: { transaction_id: id, user_id: user, amount: "10.00", currency: "USD" },
          headers: { prefer: "wait=10" },
        });
        expect(tx.status).toBe(200);
      }),
    );
    expect(await eventually(async () => r!.received.length >= 10 && r!.hanging() > 0, 60_000, 5)).toBe(true);
    const inFlightAtKill = r.hanging();
    await proc.stop("SIGKILL");
    expect(inFlightAtKill).toBeGreaterThan(0);

    proc = spawnSentinel(["webhooks"], p.ctx.env);
    const seen = () => {
      const byTx = new Map<string, Set<string>>();
      for (const x of r!.received) {
        const tx = String(payloadOf(x).data.transaction_id);
        byTx.set(tx, (byTx.get(tx) ?? new Set()).add(String(x.headers["webhook-id"])));
      }
      return byTx;
    };
    expect(await eventually(async () => ids.every((id) => seen().has(id)), 60_000), proc.output()).toBe(true);
    for (const id of ids) expect(seen().get(id)!.size).toBe(1);
  });
});

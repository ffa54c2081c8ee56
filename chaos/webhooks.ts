import { Webhook } from "standardwebhooks";
import { pollUntil } from "../src/poll.ts";
import { freePorts } from "../test/support/ports.ts";
import { runSentinel } from "../test/support/processes.ts";
import { type Received, type Receiver, startReceiver } from "../test/support/receiver.ts";
import type { Harness } from "./harness.ts";

/*
 * The webhooks under chaos (issue 23): a receiver on loopback, subscribed (through the ingress's
 * API, as a user would) to decision.declined, decision.review and case.opened, delivered by a
 * `sentinel webhooks` process of the harness's. The receiver goes down — its port closed — for
 * `receiverDownMs` during the run. The check reads PostgreSQL's live decisions itself and wants
 * every expected event received at least once, each under one webhook-id, each signature valid
 * (verified with the standardwebhooks package, not our code).
 */

export const CHAOS_WEBHOOK_EVENTS = ["decision.declined", "decision.review", "case.opened"] as const;

/** Retries a minute's outage fits in: 1 s, 2 s, 4 s, 8 s, then every 15 s. */
export const CHAOS_RETRY_SCHEDULE = "1s,2s,4s,8s,15s,15s,15s,15s,15s,15s,15s,15s,15s,15s";

export type ChaosReceiver = {
  url: string;
  received: Received[];
  /** Requests whose signature did not verify when they arrived (the verifier refuses stale ones later). */
  badSignatures(): number;
  verifyWith(secret: string): void;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
};

export async function startChaosReceiver(): Promise<ChaosReceiver> {
  const port = await freePorts();
  const received: Received[] = [];
  let verifier: Webhook | undefined;
  let bad = 0;
  const listen = () =>
    startReceiver(
      (req) => {
        received.push(req);
        try {
          verifier?.verify(req.body, {
            "webhook-id": String(req.headers["webhook-id"]),
            "webhook-timestamp": String(req.headers["webhook-timestamp"]),
            "webhook-signature": String(req.headers["webhook-signature"]),
          });
        } catch {
          bad++;
        }
        return 200;
      },
      { port },
    );
  let current: Receiver | undefined = await listen();
  return {
    url: current.url,
    received,
    badSignatures: () => bad,
    verifyWith(secret) {
      verifier = new Webhook(secret);
    },
    async down() {
      await current?.close();
      current = undefined;
    },
    async up() {
      current ??= await listen();
    },
    async close() {
      await current?.close();
    },
  };
}

/** Subscribes the receiver through the first ingress; returns the signing secret. */
export async function subscribe(h: Harness, url: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${h.ports[0]}/webhooks/endpoints`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ url, events: CHAOS_WEBHOOK_EVENTS }),
  });
  if (res.status === 202) return approved(h, ((await res.json()) as { change_id: string }).change_id);
  if (res.status !== 201) throw new Error(`webhook endpoint not created: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { secret: string }).secret;
}

/**
 * Four eyes (issue 37): the endpoint was proposed by the ingress's local admin; another operator
 * approves it at the command line, whose answer carries the signing secret, once.
 */
async function approved(h: Harness, changeId: string): Promise<string> {
  const run = await runSentinel(["changes", "approve", changeId, "--json"], {
    ...h.sandbox.env,
    SENTINEL_OPERATOR: "chaos-checker",
  });
  if (run.code !== 0) throw new Error(`webhook endpoint not approved: ${run.output.slice(-500)}`);
  return (JSON.parse(run.stdout) as { result: { secret: string } }).result.secret;
}

export type WebhookFigures = {
  webhooks_expected: number;
  webhooks_received: number;
  webhooks_lost: number;
  /** Receipts beyond the first of an event (at least once: allowed, with the same webhook-id). */
  webhooks_redelivered: number;
  /** Events received under more than one webhook-id (a receiver could not deduplicate them). */
  webhooks_id_mismatches: number;
  webhooks_bad_signatures: number;
};

/** The (type, id) of each event the stored live decisions should have produced. */
async function expectedEvents(h: Harness): Promise<Set<string>> {
  const { rows } = await h.db.query<{ id: string; decision: string }>(
    "SELECT transaction_id::text AS id, decision FROM decisions WHERE live AND decision IN ('decline', 'review')",
  );
  const expected = new Set<string>();
  for (const r of rows) {
    expected.add(`${r.decision === "decline" ? "decision.declined" : "decision.review"} ${r.id}`);
    if (r.decision === "review") expected.add(`case.opened ${r.id}`);
  }
  return expected;
}

const keyOf = (r: Received) => {
  const body = JSON.parse(r.body) as { type: string; data: { transaction_id?: string } };
  return `${body.type} ${body.data.transaction_id}`;
};

/** Waits (bounded) until every expected event arrived, then counts. */
export async function checkWebhooks(h: Harness, receiver: ChaosReceiver): Promise<WebhookFigures> {
  const expected = await expectedEvents(h);
  const arrived = () => new Set(receiver.received.map(keyOf));
  await pollUntil(
    async () => {
      const got = arrived();
      return [...expected].every((k) => got.has(k));
    },
    { timeoutMs: 180_000, everyMs: 1_000 },
  );
  const ids = new Map<string, Set<string>>();
  for (const r of receiver.received) {
    const k = keyOf(r);
    ids.set(k, (ids.get(k) ?? new Set()).add(String(r.headers["webhook-id"])));
  }
  const got = arrived();
  const lost = [...expected].filter((k) => !got.has(k)).length;
  if (lost > 0) await explainMissing(h);
  return {
    webhooks_expected: expected.size,
    webhooks_received: got.size,
    webhooks_lost: lost,
    webhooks_redelivered: receiver.received.length - got.size,
    webhooks_id_mismatches: [...ids.values()].filter((s) => s.size > 1).length,
    webhooks_bad_signatures: receiver.badSignatures(),
  };
}

/**
 * Where undelivered events stand, for the report: the delivery rows by status, the endpoint's
 * state, and the delivery process's last lines (a missing event may never have become a row).
 */
async function explainMissing(h: Harness): Promise<void> {
  const { rows } = await h.db.query<{ status: string; n: string; last_error: string | null }>(
    "SELECT status, count(*)::text AS n, max(last_error) AS last_error FROM webhook_deliveries GROUP BY status",
  );
  for (const r of rows)
    h.log(`webhook deliveries ${r.status}: ${r.n}${r.last_error ? ` (${r.last_error})` : ""}`);
  const endpoints = await h.db.query<{ enabled: boolean; disabled_reason: string | null }>(
    "SELECT enabled, disabled_reason FROM webhook_endpoints",
  );
  for (const e of endpoints.rows) h.log(`webhook endpoint enabled=${e.enabled} ${e.disabled_reason ?? ""}`);
  const tail = h.webhooks.output().trim().split("\n").slice(-8);
  for (const line of tail) h.log(`webhooks process: ${line.slice(0, 400)}`);
}

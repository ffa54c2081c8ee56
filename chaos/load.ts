import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Partitioners, type Producer } from "kafkajs";
import { backoffMs } from "../src/poll.ts";
import { storedProfiles } from "../test/support/profiles.ts";
import type { Harness } from "./harness.ts";

/*
 * The load: transactions over HTTP to both ingress processes through a simulated gateway (it
 * retries 503, timeouts and refused connections with the same transaction_id), every tenth
 * straight to Kafka from a producer batching per 20 ms as another service would, poison of every
 * dead-letter reason, profile rewrites every 500 ms and fuzzed bodies.
 */

export type Tx = {
  transaction_id: string;
  user_id: string;
  amount: string;
  currency: string;
  country: string;
};
export type Poison = { key: string | null; value: Buffer | null; reason: string };
/** A step of the fault schedule: when (ms after the load starts) and what. */
export type Step = { at: number; run: () => Promise<void> };

export type Load = {
  body(id: string): Tx;
  /** Requests and direct sends not yet answered (at most MAX_IN_FLIGHT). */
  inflight: Set<Promise<void>>;
  /** Transactions sent straight to Kafka. */
  directIds: Set<string>;
  poison: Poison[];
  /** Sends one message of each poison reason straight to the topic. */
  sendPoison(): Promise<void>;
  stats: {
    sent: number;
    gaveUp: number;
    directFailed: number;
    http5xx: number;
    fuzzSent: number;
    rewrites: number;
    poisonSent: number;
  };
  /** Offers `total` transactions at `rate`, launching each fault step at its time; resolves when all are done. */
  run(schedule: readonly Step[]): Promise<void>;
};

/** At most this many requests in flight: while the broker is away the load queues, not sockets. */
const MAX_IN_FLIGHT = 1_000;

export async function startLoad(h: Harness): Promise<Load> {
  const { o, rand } = h;
  const users = [...Array(o.users)].map((_, i) => `user-${String(i + 1).padStart(7, "0")}`);
  const body = (id: string): Tx => ({
    transaction_id: id,
    user_id: users[Math.floor(rand() * users.length)]!,
    amount: `${1 + Math.floor(rand() * 300)}.${String(Math.floor(rand() * 100)).padStart(2, "0")}`,
    currency: "USD",
    country: rand() < 0.9 ? "US" : "FR",
  });
  const stats = { sent: 0, gaveUp: 0, directFailed: 0, http5xx: 0, fuzzSent: 0, rewrites: 0, poisonSent: 0 };
  const inflight = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };
  const count5xx = async (r: Response) => {
    await r.arrayBuffer();
    if (r.status >= 500 && r.status !== 503) stats.http5xx++;
    return r.status;
  };
  // A direct producer as another service would run one: acks=all, one request in flight. Not
  // kafkajs's idempotent mode, which loses acknowledged batches after a failed request (see
  // src/kafka/producer.ts): the harness would count its own client's losses against the pipeline.
  const producer = h.sandbox.kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  const direct = directSender(h, producer, stats);
  const poison = poisonOfEveryReason(users, body);
  const gateway = createGateway(h, stats, count5xx);
  const fuzz = fuzzer(h, body, count5xx);

  async function run(schedule: readonly Step[]): Promise<void> {
    const rewriter = await startRewrites(h, stats, count5xx);
    const loadStart = Date.now();
    const faultRuns: Array<Promise<void>> = [];
    const launch = (step: Step) =>
      faultRuns.push(
        step.run().catch((error: Error) => {
          h.harnessErrors.push(error.message);
          h.event("load", `a fault step failed: ${error.message}`);
        }),
      );
    let nextFault = 0;
    const fuzzEvery = Math.max(1, Math.floor(o.total / Math.max(1, o.fuzz)));
    for (let i = 0; i < o.total; i++) {
      const wait = loadStart + (i / o.rate) * 1000 - Date.now();
      if (wait > 0) await sleep(wait);
      while (inflight.size >= MAX_IN_FLIGHT) await Promise.race(inflight);
      while (nextFault < schedule.length && Date.now() - loadStart >= schedule[nextFault]!.at)
        launch(schedule[nextFault++]!);
      const id = randomUUID();
      stats.sent++;
      if (i % 10 === 9) {
        track(direct.send(id, body(id)));
        continue;
      }
      track(gateway.post(body(id), stats.sent));
      if (i % fuzzEvery === 0 && stats.fuzzSent < o.fuzz) {
        stats.fuzzSent++;
        fuzz.send();
      }
    }
    // Faults whose time came after the last transaction still run (the schedule is complete).
    while (nextFault < schedule.length) launch(schedule[nextFault++]!);
    await Promise.all(faultRuns);
    await Promise.all(inflight);
    h.event("load", "load done");
    clearInterval(rewriter);
    await producer.disconnect();
  }

  return {
    body,
    inflight,
    directIds: direct.ids,
    poison,
    stats,
    async sendPoison() {
      // Retried as a service would (bounded): on a cluster a broker may be down meanwhile, and
      // kafkajs's own retries can run out before the metadata names the new leader.
      for (let attempt = 1; ; attempt++) {
        try {
          await producer.send({
            topic: h.topic,
            acks: -1,
            messages: poison.map((p) => ({ key: p.key, value: p.value })),
          });
          break;
        } catch (error) {
          if (attempt >= 10) throw error;
          await sleep(1_000);
        }
      }
      stats.poisonSent = poison.length;
      h.event("load", `${poison.length} poison messages`);
    },
    run,
  };
}

/**
 * A gateway: 503, timeouts and connection errors are retried with the same id, backing off from
 * 250 ms to 2 s, for up to `gatewayPatienceMs` (then it gives up: not accepted, not counted).
 */
function createGateway(h: Harness, stats: Load["stats"], count5xx: (r: Response) => Promise<number>) {
  return {
    async post(b: Tx, sent: number): Promise<void> {
      const giveUpAt = Date.now() + h.o.gatewayPatienceMs;
      for (let t = 0; Date.now() < giveUpAt; t++) {
        try {
          const res = await fetch(`http://127.0.0.1:${h.ports[(t + sent) % 2]}/transaction`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(b),
            signal: AbortSignal.timeout(5_000),
          });
          const status = await count5xx(res);
          if (status === 202 || status === 200) {
            h.accepted.add(b.transaction_id);
            return;
          }
          if (status !== 503) return;
        } catch {
          // connection refused (a killed ingress) or timed out: the same id again
        }
        await sleep(backoffMs(t, { baseMs: 250, maxMs: 2_000 }));
      }
      stats.gaveUp++;
    },
  };
}

/** The direct producer batches what came in the last 20 ms into one request, as a service would. */
function directSender(h: Harness, producer: Producer, stats: Load["stats"]) {
  const ids = new Set<string>();
  let queue: Array<{ id: string; tx: Tx; done: () => void }> = [];
  let sending = false;
  h.every(20, async () => {
    if (sending || queue.length === 0) return;
    sending = true;
    const batch = queue;
    queue = [];
    try {
      await producer.send({
        topic: h.topic,
        acks: -1,
        messages: batch.map((d) => ({ key: d.tx.user_id, value: JSON.stringify(d.tx) })),
      });
      for (const d of batch) h.accepted.add(d.id);
    } catch {
      stats.directFailed += batch.length; // its retries ran out while the broker was away: never accepted
    } finally {
      sending = false;
      for (const d of batch) d.done();
    }
  });
  return {
    ids,
    send(id: string, tx: Tx): Promise<void> {
      ids.add(id);
      return new Promise<void>((done) => queue.push({ id, tx, done }));
    },
  };
}

/** One message of each dead-letter reason. */
function poisonOfEveryReason(users: readonly string[], body: (id: string) => Tx): Poison[] {
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));
  return [
    { key: users[0]!, value: Buffer.from("{not json"), reason: "not_json" },
    { key: users[0]!, value: null, reason: "empty_value" },
    { key: null, value: json(body(randomUUID())), reason: "missing_key" },
    {
      key: "someone-else",
      value: json({ ...body(randomUUID()), user_id: users[1] }),
      reason: "key_mismatch",
    },
    {
      key: users[2]!,
      value: json({ ...body(randomUUID()), user_id: users[2], amount: "-1" }),
      reason: "schema_violation",
    },
    {
      key: users[3]!,
      value: json({ ...body(randomUUID()), user_id: users[3], device_id: "4111111111111111" }),
      reason: "pan_not_allowed",
    },
    {
      key: users[4]!,
      value: Buffer.concat([Buffer.from([0, 0, 0, 0, 42]), Buffer.from("{}")]),
      reason: "unknown_schema_id",
    },
    { key: users[5]!, value: Buffer.alloc(20_000, 0x20), reason: "oversized" },
  ];
}

/** Profile rewrites (same values: a new version, the cached copy replaced) every 500 ms. */
async function startRewrites(
  h: Harness,
  stats: Load["stats"],
  count5xx: (r: Response) => Promise<number>,
): Promise<NodeJS.Timeout> {
  const current = await storedProfiles(h.db);
  return h.every(500, () => {
    const { user_id, ...profile } = current[Math.floor(h.rand() * current.length)]!;
    stats.rewrites++;
    void fetch(`http://127.0.0.1:${h.ports[stats.rewrites % 2]}/users/${user_id}/profile`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(profile),
      signal: AbortSignal.timeout(5_000),
    }).then(count5xx, () => {});
  });
}

/** Fuzzed bodies: valid ones with bytes changed, wrong values, deep nesting, random bytes, other types. */
function fuzzer(h: Harness, body: (id: string) => Tx, count5xx: (r: Response) => Promise<number>) {
  const { rand } = h;
  const fuzzBody = (): { type: string; text: string } => {
    const valid = JSON.stringify(body(randomUUID()));
    const r = rand();
    if (r < 0.3) {
      const chars = [...valid];
      for (let k = 0; k < 1 + Math.floor(rand() * 4); k++)
        chars[Math.floor(rand() * chars.length)] = String.fromCharCode(Math.floor(rand() * 128));
      return { type: "application/json", text: chars.join("") };
    }
    if (r < 0.5)
      return { type: "application/json", text: JSON.stringify({ ...JSON.parse(valid), amount: -1 }) };
    if (r < 0.65) return { type: "application/json", text: "[".repeat(1 + Math.floor(rand() * 5_000)) };
    if (r < 0.8) {
      const bytes = Buffer.alloc(1 + Math.floor(rand() * 512));
      for (let k = 0; k < bytes.length; k++) bytes[k] = Math.floor(rand() * 256);
      return { type: "application/json", text: bytes.toString("latin1") };
    }
    const types = [
      "text/plain",
      "application/xml",
      "multipart/form-data",
      "application/x-www-form-urlencoded",
      "",
    ];
    return { type: types[Math.floor(rand() * types.length)]!, text: valid };
  };
  return {
    send(): void {
      const f = fuzzBody();
      void fetch(`http://127.0.0.1:${h.ports[1]}/transaction`, {
        method: "POST",
        headers: f.type ? { "content-type": f.type } : {},
        body: f.text,
        signal: AbortSignal.timeout(5_000),
      }).then(count5xx, () => {});
    },
  };
}

import { randomUUID } from "node:crypto";
import { request as httpRequest } from "node:http";
import { describe, expect, it } from "vitest";
import { createTestContext, sqlClient } from "../support/context.ts";
import { usePipeline } from "../support/pipeline.ts";
import { freePorts } from "../support/ports.ts";
import { spawnSentinel } from "../support/processes.ts";
import { eventually, readAll } from "../support/topics.ts";

/*
 * Issue 12: the decision in the payment's request (`Prefer: wait`), against the real broker,
 * PostgreSQL and Redis — in one process, then with `sentinel ingest` twice and `sentinel consume`
 * as separate processes.
 */

const p = usePipeline({ TOPIC_TRANSACTIONS_PARTITIONS: "4" });

const send = (
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  url?: string,
) => p.request(method, path, { body, headers, base: url });

const tx = (user: string, amount = "10.00") => ({
  transaction_id: randomUUID(),
  user_id: user,
  amount,
  currency: "USD",
});

async function profile(user: string, status: "active" | "blocked" = "active", url?: string) {
  const res = await send(
    "PUT",
    `/users/${user}/profile`,
    {
      status,
      risk_tier: "low",
      home_country: "US",
      currency: "USD",
      per_transaction_limit: "500.00",
      daily_limit: "1000.00",
    },
    {},
    url,
  );
  expect(res.status).toBe(200);
}

describe("POST /transaction with Prefer: wait", () => {
  it("answers 200 with the decision that GET and the decisions topic carry", async () => {
    await profile("sync-a");
    const body = tx("sync-a", "600.00"); // over the per-transaction limit: decline
    const res = await send("POST", "/transaction", body, { prefer: "wait=10" });
    expect(res.status).toBe(200);
    expect(res.headers.get("preference-applied")).toBe("wait=10");
    const answer = (await res.json()) as {
      transaction_id: string;
      status: string;
      decision: Record<string, unknown>;
    };
    expect(answer).toMatchObject({ transaction_id: body.transaction_id, status: "decided" });
    expect(answer.decision).toMatchObject({ decision: "decline", reasons: ["over_transaction_limit"] });

    const stored = (await (await send("GET", `/transaction/${body.transaction_id}`)).json()) as {
      decision: Record<string, unknown>;
    };
    expect(stored.decision).toEqual(answer.decision);
    const published = (await readAll(p.ctx.kafka, p.ctx.config.kafka.topics.decisions)).map((m) =>
      JSON.parse(m.value!.toString()),
    );
    const mine = published.filter((d) => d.transaction_id === body.transaction_id);
    expect(mine).toHaveLength(1);
    const { transaction_id: _t, user_id: _u, ...decision } = mine[0];
    expect(decision).toEqual(answer.decision);

    // The same request again: the same body (the stored decision, republished).
    const again = await send("POST", "/transaction", body, { prefer: "wait=10" });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { decision: unknown }).decision).toEqual(answer.decision);

    // Where the time went, per stage (issue 21's first step): the sync request's three stages and
    // the scorer's round stages are counted (ingress and scorer share this process's metrics).
    const metrics = await (await send("GET", "/metrics")).text();
    const count = (name: string, stage: string) =>
      Number(new RegExp(`^${name}_count\\{stage="${stage}"\\} (\\d+)`, "m").exec(metrics)?.[1] ?? 0);
    for (const stage of ["ack", "decide", "deliver"])
      expect(count("sentinel_sync_stage_seconds", stage)).toBeGreaterThan(0);
    for (const stage of ["queued", "decode", "load_context", "decide", "persist", "publish"])
      expect(count("sentinel_scorer_stage_seconds", stage)).toBeGreaterThan(0);
  });

  it("declines a blocked user in the answer", async () => {
    await profile("sync-blocked", "blocked");
    const res = await send("POST", "/transaction", tx("sync-blocked"), { prefer: "wait=10" });
    expect(res.status).toBe(200);
    expect(
      ((await res.json()) as { decision: { decision: string; reasons: string[] } }).decision,
    ).toMatchObject({
      decision: "decline",
      reasons: expect.arrayContaining(["user_blocked"]),
    });
  });

  it("answers 409 when the transaction_id is stored with another payload", async () => {
    await profile("sync-conflict");
    const body = tx("sync-conflict");
    expect((await send("POST", "/transaction", body, { prefer: "wait=10" })).status).toBe(200);
    const res = await send("POST", "/transaction", { ...body, amount: "11.00" }, { prefer: "wait=10" });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({
      error: "transaction_id_conflict",
      transaction_id: body.transaction_id,
    });
  });

  it("without the header, nothing changes (202)", async () => {
    const res = await send("POST", "/transaction", tx("sync-plain"));
    expect(res.status).toBe(202);
    expect(res.headers.get("preference-applied")).toBeNull();
  });
});

describe("GET /transaction/:id with Prefer: wait", () => {
  it("long-polls a transaction that is not stored yet, and 404s after the wait when it never comes", async () => {
    await profile("sync-poll");
    const body = tx("sync-poll");
    const poll = send("GET", `/transaction/${body.transaction_id}`, undefined, { prefer: "wait=10" });
    await new Promise((r) => setTimeout(r, 300));
    expect((await send("POST", "/transaction", body)).status).toBe(202);
    const res = await poll;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { transaction_id: string; decision: unknown }).decision).toMatchObject({
      decision: "approve",
    });
    const started = Date.now();
    const missing = await send("GET", `/transaction/${randomUUID()}`, undefined, { prefer: "wait=0.4" });
    expect(missing.status).toBe(404);
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
  });
});

describe("waits that end without a decision", () => {
  it("frees the wait of a client that disconnects", async () => {
    const before = p.rt.metrics.http.syncWaits;
    const id = randomUUID();
    const url = new URL(p.base);
    await new Promise<void>((resolve) => {
      const req = httpRequest({
        host: url.hostname,
        port: url.port,
        path: `/transaction/${id}`,
        method: "GET",
        headers: { prefer: "wait=2" },
      });
      req.on("error", () => resolve());
      req.end();
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 200);
    });
    expect(
      await eventually(
        async () => (await before.get()).values.some((v) => v.labels.outcome === "cancelled" && v.value >= 1),
        3_000,
        50,
      ),
    ).toBe(true);
  });
});

describe("separate processes: two ingress processes and one consumer", () => {
  it("gives each ingress the decisions of its own requests; a stopped consumer means 202 in time; SIGTERM answers waits 202", async () => {
    // A sandbox of its own: no in-process consumer in this group.
    const own = await createTestContext({ TOPIC_TRANSACTIONS_PARTITIONS: "4", SYNC_WAIT_MAX_MS: "15000" });
    const ownDb = await sqlClient(own.config);
    const first = await freePorts(2);
    const ports = [first, first + 1];
    const ingests = ports.map((port) =>
      spawnSentinel(["ingest"], { ...own.env, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "info" }),
    );
    let consume = spawnSentinel(["consume"], { ...own.env, LOG_LEVEL: "info" });
    try {
      for (const p of [...ingests, consume]) {
        expect(
          await eventually(async () => /ingest listening|scorer running/.test(p.output()), 60_000),
          p.output(),
        ).toBe(true);
      }
      const urls = ports.map((p) => `http://127.0.0.1:${p}`);
      await profile("sync-multi", "active", urls[0]);
      // Each listener joins its own group: wait until each ingress answers 200 at all.
      for (const url of urls) {
        expect(
          await eventually(
            async () =>
              (await send("POST", "/transaction", tx("sync-multi"), { prefer: "wait=1" }, url)).status ===
              200,
            30_000,
            200,
          ),
        ).toBe(true);
      }
      const answers = await Promise.all(
        [...Array(40)].map((_, i) => {
          const body = tx(`sync-multi-${i % 8}`);
          return send("POST", "/transaction", body, { prefer: "wait=10" }, urls[i % 2]).then(async (r) => ({
            status: r.status,
            id: body.transaction_id,
            json: (await r.json()) as { transaction_id: string },
          }));
        }),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(40).fill(200));
      expect(answers.every((a) => a.json.transaction_id === a.id)).toBe(true);

      // The consumer stops: a wait of 0.3 s ends in the 202 of today, in about 0.3 s.
      expect(await consume.stop()).toBe(0);
      const started = Date.now();
      const slow = await send("POST", "/transaction", tx("sync-multi"), { prefer: "wait=0.3" }, urls[0]);
      const took = Date.now() - started;
      expect(slow.status).toBe(202);
      expect(took).toBeGreaterThanOrEqual(290);
      expect(took).toBeLessThan(1_500);

      // SIGTERM with waits open: they are answered 202 before the process exits 0.
      const pending = send("POST", "/transaction", tx("sync-multi"), { prefer: "wait=2" }, urls[1]);
      await new Promise((r) => setTimeout(r, 300));
      const exit = ingests[1]!.stop();
      const res = await pending;
      expect(res.status).toBe(202);
      expect(await exit).toBe(0);
      // The consumer comes back: everything accepted meanwhile is decided once.
      consume = spawnSentinel(["consume"], { ...own.env });
      expect(
        await eventually(async () => {
          const { rows } = await ownDb.query(
            "SELECT count(*)::int AS n FROM transactions t LEFT JOIN decisions d ON d.transaction_id = t.transaction_id AND d.live WHERE t.user_id LIKE 'sync-multi%' AND d.transaction_id IS NULL",
          );
          return rows[0].n === 0;
        }, 60_000),
      ).toBe(true);
    } finally {
      await Promise.all([...ingests, consume].map((p) => p.stop("SIGKILL")));
      await ownDb.end();
      await own.cleanup();
    }
  });
});

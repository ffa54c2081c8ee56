import { randomUUID } from "node:crypto";
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { usePipeline } from "../support/pipeline.ts";
import { eventually, readAll } from "../support/topics.ts";
import { testProducer } from "../support/workload.ts";

/*
 * Issue 11, items 1, 3, 4 and 9, against the real broker, PostgreSQL and Redis: limits cannot be
 * escaped by choosing timestamps, no card number is stored or dead-lettered in clear, a reused
 * transaction_id with another payload is a conflict, and the ingress's readiness and timeouts.
 */

const p = usePipeline({ TOPIC_TRANSACTIONS_PARTITIONS: "2", HTTP_REQUEST_TIMEOUT_MS: "500" });

const call = (method: string, path: string, body?: unknown) => p.request(method, path, { body });

async function putProfile(user: string, daily: string) {
  const res = await call("PUT", `/users/${user}/profile`, {
    status: "active",
    risk_tier: "low",
    home_country: "US",
    currency: "USD",
    per_transaction_limit: "1000.00",
    daily_limit: daily,
  });
  expect(res.status).toBe(200);
}

async function decisionsOf(ids: readonly string[]) {
  expect(
    await eventually(
      async () =>
        (await p.db.query("SELECT 1 FROM decisions WHERE live AND transaction_id = ANY($1::uuid[])", [ids]))
          .rowCount === ids.length,
      30_000,
    ),
  ).toBe(true);
  const { rows } = await p.db.query<{ id: string; decision: string; reasons: string[] }>(
    "SELECT transaction_id::text AS id, decision, reasons FROM decisions WHERE live AND transaction_id = ANY($1::uuid[])",
    [ids],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id)!);
}

describe("item 1: the windowed rules cannot be escaped by choosing timestamps", () => {
  it("counts earlier transactions whose timestamps go down (daily limit)", async () => {
    await putProfile("ts-down", "100.00");
    const now = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = randomUUID();
      ids.push(id);
      const res = await call("POST", "/transaction", {
        transaction_id: id,
        user_id: "ts-down",
        amount: "90.00",
        currency: "USD",
        timestamp: new Date(now - i * 60_000).toISOString(),
      });
      expect(res.status).toBe(202);
    }
    const decided = await decisionsOf(ids);
    expect(decided[0]!.decision).toBe("approve");
    for (const d of decided.slice(1)) {
      expect(d.decision).toBe("decline");
      expect(d.reasons).toContain("over_daily_limit");
    }
  });

  it("counts a burst for the velocity rule whatever its timestamps (spread over hours, either way)", async () => {
    await putProfile("ts-spread", "100000.00");
    const now = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const id = randomUUID();
      ids.push(id);
      // 6 posts within a second whose timestamps claim they are 50 minutes apart
      const offset = (i % 2 === 0 ? -i : -(6 - i)) * 50 * 60_000;
      const res = await call("POST", "/transaction", {
        transaction_id: id,
        user_id: "ts-spread",
        amount: "1.00",
        currency: "USD",
        timestamp: new Date(now + offset).toISOString(),
      });
      expect(res.status).toBe(202);
    }
    const decided = await decisionsOf(ids);
    expect(decided.slice(0, 5).map((d) => d.reasons.includes("velocity"))).toEqual(Array(5).fill(false));
    expect(decided[5]!.reasons).toContain("velocity");
  });

  it("refuses a timestamp older than TIMESTAMP_MAX_AGE_HOURS (7 days by default)", async () => {
    const res = await call("POST", "/transaction", {
      user_id: "ts-old",
      amount: "1.00",
      currency: "USD",
      timestamp: new Date(Date.now() - 8 * 86_400_000).toISOString(),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { issues: Array<{ path: string; message: string }> };
    expect(body.issues).toEqual([{ path: "timestamp", message: expect.stringMatching(/7 days old/) }]);
  });

  it("stores the Kafka timestamp it decided with (received_at), beside the client's event time", async () => {
    const { rows } = await p.db.query<{ behind: boolean }>(
      "SELECT received_at > event_time AS behind FROM transactions WHERE user_id = 'ts-down' ORDER BY source_offset",
    );
    expect(rows.map((r) => r.behind)).toEqual([true, true, true, true, true]);
  });
});

describe("item 3: no card number reaches PostgreSQL, Kafka's DLQ or the answer in clear", () => {
  it.each([
    ["a user_id of dotted groups", { user_id: "4111.1111.1111.1111" }, "user_id"],
    ["a metadata key", { metadata: { "4111111111111111": "x" } }, "metadata.411111******1111"],
    ["a metadata value inside text", { metadata: { note: "card 4111111111111111" } }, "metadata.note"],
    ["a device id with slashes", { device_id: "4111/1111/1111/1111" }, "device_id"],
  ])("refuses %s over HTTP", async (_name, extra, path) => {
    const res = await call("POST", "/transaction", {
      user_id: "pan-user",
      amount: "1.00",
      currency: "USD",
      ...extra,
    });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).not.toMatch(/4111.?1111.?1111.?1111/);
    expect(JSON.parse(text)).toMatchObject({ error: "pan_not_allowed", issues: [{ path }] });
  });

  it("dead-letters a PAN on Kafka masked (first 6, last 4), with a header saying so, and stores nothing", async () => {
    const id = randomUUID();
    const value = {
      transaction_id: id,
      user_id: "4111-1111-1111-1111",
      amount: "1.00",
      currency: "USD",
      metadata: { note: "card 5500 0000 0000 0004 exp 12/27" },
    };
    const producer = testProducer(p.ctx.kafka);
    await producer.connect();
    await producer.send({
      topic: p.ctx.config.kafka.topics.transactions,
      acks: -1,
      messages: [{ key: value.user_id, value: JSON.stringify(value) }],
    });
    await producer.disconnect();
    expect(
      await eventually(async () => {
        const dlq = await readAll(p.ctx.kafka, p.ctx.config.kafka.topics.dlq, 10_000);
        return dlq.some((m) => m.value?.toString().includes(id));
      }, 30_000),
    ).toBe(true);
    const letter = (await readAll(p.ctx.kafka, p.ctx.config.kafka.topics.dlq)).find((m) =>
      m.value?.toString().includes(id),
    )!;
    const raw = `${letter.key} ${letter.value} ${JSON.stringify(letter.headers)}`;
    expect(raw).not.toMatch(/4111.?1111.?1111.?1111|5500.?0000.?0000.?0004/);
    expect(letter.key?.toString()).toBe("4111-11**-****-1111");
    expect(JSON.parse(letter.value!.toString()).metadata.note).toBe("card 5500 00** **** 0004 exp 12/27");
    expect(letter.headers?.["x-pan-masked"]?.toString()).toBe("true");
    expect(letter.headers?.["x-error-reason"]?.toString()).toBe("pan_not_allowed");
    const stored = await p.db.query("SELECT 1 FROM transactions WHERE transaction_id = $1", [id]);
    expect(stored.rowCount).toBe(0);
  });
});

describe("item 4: a reused transaction_id with another payload is a conflict", () => {
  it("dead-letters the conflicting message as id_conflict and keeps the stored row and decision", async () => {
    await putProfile("conflict-user", "1000.00");
    const id = randomUUID();
    const first = { transaction_id: id, user_id: "conflict-user", amount: "10.00", currency: "USD" };
    expect((await call("POST", "/transaction", first)).status).toBe(202);
    const [before] = await decisionsOf([id]);
    // The same request again without a timestamp (the ingress assigns a new one): not a conflict.
    expect((await call("POST", "/transaction", { ...first, amount: "10.0" })).status).toBe(202);
    // The same id with another amount, another merchant: conflicts.
    expect((await call("POST", "/transaction", { ...first, amount: "999.00" })).status).toBe(202);
    expect((await call("POST", "/transaction", { ...first, merchant_id: "m-other" })).status).toBe(202);
    expect(
      await eventually(async () => {
        const dlq = await readAll(p.ctx.kafka, p.ctx.config.kafka.topics.dlq, 10_000);
        return dlq.filter((m) => m.value?.toString().includes(id)).length >= 2;
      }, 30_000),
    ).toBe(true);
    const letters = (await readAll(p.ctx.kafka, p.ctx.config.kafka.topics.dlq)).filter((m) =>
      m.value?.toString().includes(id),
    );
    expect(letters.map((m) => m.headers?.["x-error-reason"]?.toString())).toEqual([
      "id_conflict",
      "id_conflict",
    ]);
    expect(letters.map((m) => JSON.parse(m.value!.toString()).amount)).toEqual(["999.00", "10.00"]);
    const { rows } = await p.db.query(
      "SELECT amount::text, merchant_id FROM transactions WHERE transaction_id = $1",
      [id],
    );
    expect(rows).toEqual([{ amount: "10.00", merchant_id: null }]);
    const [after] = await decisionsOf([id]);
    expect(after).toEqual(before);
    const metrics = await p.rt.metrics.registry.getSingleMetricAsString("sentinel_dead_letters_total");
    expect(metrics).toContain('reason="id_conflict"} 2');
  });
});

describe("item 9: readiness and timeouts of the ingress", () => {
  it("/readyz checks only what POST /transaction needs (Kafka), not PostgreSQL or Redis", async () => {
    const res = await call("GET", "/readyz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ready", checks: { kafka: true } });
  });

  it("closes a connection whose body does not arrive within HTTP_REQUEST_TIMEOUT_MS", async () => {
    const url = new URL(p.base);
    const started = Date.now();
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(
          "POST /transaction HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        );
      });
      let got = "";
      socket.on("data", (d) => {
        got += d.toString();
      });
      socket.on("close", () => resolve(got));
      setTimeout(() => socket.destroy(), 10_000);
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(answer).toMatch(/^HTTP\/1.1 408/);
  });

  it("creates the transactions topic with broker timestamps and min.insync.replicas from config", async () => {
    const admin = p.ctx.kafka.admin();
    await admin.connect();
    try {
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2, name: p.ctx.config.kafka.topics.transactions }],
      });
      const entries = new Map(resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
      expect(entries.get("message.timestamp.type")).toBe("LogAppendTime");
      expect(entries.get("min.insync.replicas")).toBe("1");
    } finally {
      await admin.disconnect();
    }
  });
});

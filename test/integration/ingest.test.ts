import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { type RunningIngest, startIngest } from "../../src/ingest/main.ts";
import { createRuntime } from "../../src/runtime.ts";
import type { TestContext } from "../support/context.ts";
import { type InProcess, startInProcess } from "../support/in-process.ts";
import { readTopic } from "../support/topics.ts";

/* Law 1 against the real broker: 202 only for what is on the topic, keyed by user_id. */

let app: InProcess;
let ctx: TestContext;
let ingest: RunningIngest;

beforeAll(async () => {
  app = await startInProcess({ ingest: true });
  ctx = app.ctx;
  ingest = app.ingest!;
});
afterAll(async () => {
  await app?.stop();
});

const post = (body: unknown) =>
  fetch(`${ingest.address}/transaction`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("ingest against the real broker", () => {
  it("puts a posted transaction on the topic, keyed by user_id, as the exact JSON", async () => {
    const body = {
      user_id: "alice",
      amount: "12.50",
      currency: "EUR",
      country: "FR",
      metadata: { order: "o-1" },
    };
    const res = await post(body);
    expect(res.status).toBe(202);
    const { transaction_id } = (await res.json()) as { transaction_id: string };
    const messages = await readTopic(ctx.kafka, ctx.config.kafka.topics.transactions, 1);
    expect(messages).toHaveLength(1);
    const m = messages[0]!;
    expect(m.key?.toString()).toBe("alice");
    const value = JSON.parse(m.value!.toString());
    expect(value).toEqual({ ...body, transaction_id, timestamp: value.timestamp });
    expect(Date.parse(value.timestamp)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("lands 500 concurrent posts exactly once each", async () => {
    const before = (await readTopic(ctx.kafka, ctx.config.kafka.topics.transactions, 1, 5_000)).length;
    const responses = await Promise.all(
      [...Array(500)].map((_, i) =>
        post({ user_id: `user-${i % 50}`, amount: `${i + 1}.00`, currency: "USD" }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(500).fill(202));
    const ids = await Promise.all(
      responses.map(async (r) => ((await r.json()) as { transaction_id: string }).transaction_id),
    );
    const messages = await readTopic(ctx.kafka, ctx.config.kafka.topics.transactions, before + 500);
    const onTopic = messages.map((m) => JSON.parse(m.value!.toString()).transaction_id as string);
    expect(onTopic).toHaveLength(before + 500);
    const counts = new Map<string, number>();
    for (const id of onTopic) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const id of ids) expect(counts.get(id)).toBe(1);
    // Same user, same partition.
    const partitionOf = new Map<string, number>();
    for (const m of messages) {
      const key = m.key!.toString();
      expect(partitionOf.get(key) ?? m.partition).toBe(m.partition);
      partitionOf.set(key, m.partition);
    }
  });
});

describe("ingest with the broker unreachable", () => {
  it("answers 503 within the deadline and acknowledges nothing", async () => {
    const config = loadConfig({ ...ctx.env, KAFKA_BROKERS: "127.0.0.1:1", PRODUCE_TIMEOUT_MS: "1000" });
    const dead = await createRuntime(config, ctx.logger);
    const app = await startIngest(dead, { listen: false });
    try {
      const started = Date.now();
      const results = await Promise.all(
        [...Array(20)].map(() =>
          app.app.inject({
            method: "POST",
            url: "/transaction",
            payload: { user_id: "u", amount: "1", currency: "USD" },
          }),
        ),
      );
      const elapsed = Date.now() - started;
      expect(results.map((r) => r.statusCode)).toEqual(Array(20).fill(503));
      expect(results[0]!.headers["retry-after"]).toBe("1");
      expect(elapsed).toBeLessThan(1000 + 1500); // the deadline, plus slack for a loaded machine
      const ready = await app.app.inject({ method: "GET", url: "/readyz" });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks.kafka).toBe(false);
    } finally {
      await app.stop();
      await dead.close();
    }
  });
});

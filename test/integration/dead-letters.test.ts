import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../../src/runtime.ts";
import { sqlClient, type TestContext } from "../support/context.ts";
import { type InProcess, startInProcess } from "../support/in-process.ts";
import { eventually, readTopic } from "../support/topics.ts";
import { testProducer } from "../support/workload.ts";

/* Law 4 on Kafka: every kind of poison lands in the DLQ with its original bytes and where it came
   from, and the good messages around it are processed. */

let app: InProcess;
let ctx: TestContext;
let rt: Runtime;

beforeAll(async () => {
  app = await startInProcess({
    overrides: { MESSAGE_MAX_BYTES: "1024", TOPIC_TRANSACTIONS_PARTITIONS: "1" },
    consumer: true,
  });
  ({ ctx, rt } = app);
});
afterAll(async () => {
  await app?.stop();
});

const good = (user = "u1") => ({
  transaction_id: randomUUID(),
  user_id: user,
  amount: "5.00",
  currency: "USD",
  timestamp: new Date().toISOString(),
});
const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const framed = (schemaId: number, v: unknown) => {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, json(v)]);
};

describe("dead letters", () => {
  it("dead-letters every kind of poison with its headers and processes the good messages", async () => {
    const goods = [good(), good(), good(), good()];
    const poison: Array<{ reason: string; key: string | null; value: Buffer | null }> = [
      { reason: "not_json", key: "u1", value: Buffer.from("{this is not json") },
      { reason: "schema_violation", key: "u1", value: json({ ...good(), amount: "-3" }) },
      { reason: "oversized", key: "u1", value: json({ ...good(), metadata: { pad: "x".repeat(1100) } }) },
      { reason: "missing_key", key: null, value: json(good()) },
      { reason: "key_mismatch", key: "someone-else", value: json(good()) },
      { reason: "empty_value", key: "u1", value: null },
      { reason: "pan_not_allowed", key: "u1", value: json({ ...good(), device_id: "4111111111111111" }) },
      { reason: "unknown_schema_id", key: "u1", value: framed(42, good()) },
      // Valid JSON that PostgreSQL could not store: refused at validation, not retried forever.
      { reason: "schema_violation", key: "u1", value: json({ ...good(), merchant_id: "m\u0000" }) },
      {
        reason: "schema_violation",
        key: "u1",
        value: json({ ...good(), timestamp: "0000-01-01T00:00:00Z" }),
      },
    ];
    const messages = [
      { key: "u1", value: json(goods[0]) },
      ...poison.slice(0, 4).map((p) => ({ key: p.key, value: p.value })),
      { key: "u1", value: json(goods[1]) },
      { key: "u1", value: json(goods[2]) },
      ...poison.slice(4).map((p) => ({ key: p.key, value: p.value })),
      { key: "u1", value: json(goods[3]) },
    ];
    const producer = testProducer(ctx.kafka);
    await producer.connect();
    await producer.send({ topic: ctx.config.kafka.topics.transactions, acks: -1, messages });
    await producer.disconnect();

    const dlq = await readTopic(ctx.kafka, ctx.config.kafka.topics.dlq, poison.length);
    expect(dlq).toHaveLength(poison.length);
    const source = await readTopic(ctx.kafka, ctx.config.kafka.topics.transactions, messages.length);
    const offsetOf = new Map(source.map((m) => [m.value?.toString("base64") ?? "", m.offset]));

    for (const [i, letter] of dlq.entries()) {
      const expected = poison[i]!;
      const h = (name: string) => letter.headers?.[name]?.toString();
      expect(h("x-error-reason")).toBe(expected.reason);
      expect(h("x-error")).toMatch(new RegExp(`^${expected.reason}: .+`));
      expect(h("x-source-topic")).toBe(ctx.config.kafka.topics.transactions);
      expect(h("x-source-partition")).toBe("0");
      expect(h("x-source-offset")).toBe(offsetOf.get(expected.value?.toString("base64") ?? ""));
      expect(letter.key?.toString() ?? null).toBe(expected.key);
      if (expected.reason === "pan_not_allowed") {
        // Law 7: the DLQ is no card-number store; the card number is masked and the header says so.
        expect(letter.value!.toString()).toBe(
          expected.value!.toString().replace("4111111111111111", "411111******1111"),
        );
        expect(h("x-pan-masked")).toBe("true");
      } else {
        expect(letter.value ?? null).toEqual(expected.value);
        expect(h("x-pan-masked")).toBeUndefined();
      }
    }

    const db = await sqlClient(ctx.config);
    try {
      expect(
        await eventually(
          async () => (await db.query("SELECT 1 FROM decisions")).rowCount === goods.length,
          30_000,
        ),
      ).toBe(true);
      const { rows } = await db.query(
        "SELECT transaction_id::text AS id FROM transactions ORDER BY source_offset",
      );
      expect(rows.map((r) => r.id)).toEqual(goods.map((g) => g.transaction_id));
    } finally {
      await db.end();
    }
    const metrics = await rt.metrics.registry.getSingleMetricAsString("sentinel_dead_letters_total");
    for (const reason of new Set(poison.map((p) => p.reason))) {
      const n = poison.filter((p) => p.reason === reason).length;
      expect(metrics).toContain(`reason="${reason}"} ${n}`);
    }
  });
});

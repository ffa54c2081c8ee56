import { randomUUID } from "node:crypto";
import { Compatibility, JsonSerializer, SerdeType } from "@confluentinc/schemaregistry";
import { Partitioners } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerSchemas, subjectFor } from "../../src/kafka/schema-registry.ts";
import { sqlClient, type TestContext } from "../support/context.ts";
import { type InProcess, startInProcess } from "../support/in-process.ts";
import { spawnSentinel } from "../support/processes.ts";
import { eventually, readAll } from "../support/topics.ts";

/*
 * Schema Registry framing, end to end through the real broker, PostgreSQL and Redis. The registry
 * is the library's in-memory one (mock://): no Confluent-compatible registry could be run on this
 * machine (README, Kafka topics). Ingest and consumer share it because they run in one process,
 * as `sentinel all` runs them; a direct producer here frames its values with the library's own
 * JsonSerializer against that same registry.
 */

let app: InProcess;
let ctx: TestContext;

beforeAll(async () => {
  app = await startInProcess({
    overrides: { SCHEMA_REGISTRY_URL: "mock://schema-test", TOPIC_TRANSACTIONS_PARTITIONS: "2" },
    ingest: true,
    consumer: true,
  });
  ({ ctx } = app);
});
afterAll(async () => {
  await app?.stop();
});

const tx = (over: Record<string, unknown> = {}) => ({
  transaction_id: randomUUID(),
  user_id: "u-frame",
  amount: "12.50",
  currency: "USD",
  timestamp: new Date().toISOString(),
  ...over,
});

function frame(id: number, body: unknown): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(id, 1);
  return Buffer.concat([header, Buffer.from(JSON.stringify(body))]);
}

describe("Schema Registry framing", () => {
  it("ingests framed and plain values on one topic and dead-letters unknown ids and invalid framed values", async () => {
    const topic = ctx.config.kafka.topics.transactions;
    const registry = (await app.rt.registry())!;
    const writerId = (await app.rt.schemaIds())!.writerId;
    // Another subject's schema: a real id, but not a transaction schema.
    const otherId = await registry.register(
      "payments-value",
      { schemaType: "JSON", schema: '{"type":"object"}' },
      false,
    );
    expect(otherId).not.toBe(writerId);

    // 1. Over HTTP: the ingress writes framed values.
    const viaHttp = tx();
    const res = await app.ingest!.app.inject({ method: "POST", url: "/transaction", payload: viaHttp });
    expect(res.statusCode, res.body).toBe(202);

    // 2. A direct producer using the Confluent library's JSON serializer (looks the schema up).
    const serializer = new JsonSerializer(registry, SerdeType.VALUE, { useLatestVersion: true });
    const viaSerializer = tx();
    const serialized = await serializer.serialize(topic, viaSerializer);
    expect(serialized[0]).toBe(0);
    expect(serialized.readUInt32BE(1)).toBe(writerId);

    // 3. A direct producer writing plain JSON; 4-6. poison: unknown id, another subject's id, and
    // a framed value with a known id that fails validation.
    const plain = tx();
    const unknownId = tx();
    const otherSubject = tx();
    const invalid = tx({ amount: "-3.00" });
    const producer = ctx.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: [
        { key: viaSerializer.user_id, value: serialized },
        { key: plain.user_id, value: JSON.stringify(plain) },
        { key: unknownId.user_id, value: frame(9_999, unknownId) },
        { key: otherSubject.user_id, value: frame(otherId, otherSubject) },
        { key: invalid.user_id, value: frame(writerId, invalid) },
      ],
    });
    await producer.disconnect();

    const db = await sqlClient(ctx.config);
    try {
      const ids = [viaHttp, viaSerializer, plain].map((t) => t.transaction_id);
      const stored = await eventually(
        async () =>
          (await db.query("SELECT 1 FROM decisions WHERE live AND transaction_id = ANY($1)", [ids]))
            .rowCount === 3,
        30_000,
      );
      expect(stored).toBe(true);
      expect((await db.query("SELECT count(*)::int AS n FROM transactions")).rows[0].n).toBe(3);
    } finally {
      await db.end();
    }

    // The HTTP one went onto the topic framed with the registered id.
    const onTopic = await readAll(ctx.kafka, topic);
    const httpMessage = onTopic.find((m) => m.value!.includes(Buffer.from(viaHttp.transaction_id)));
    expect(httpMessage!.value![0]).toBe(0);
    expect(httpMessage!.value!.readUInt32BE(1)).toBe(writerId);

    const letters = await readAll(ctx.kafka, ctx.config.kafka.topics.dlq);
    const reasons = letters
      .map((m) => {
        const body = m.value!.subarray(5).toString();
        return [JSON.parse(body).transaction_id, m.headers!["x-error-reason"]!.toString()];
      })
      .sort();
    expect(reasons).toEqual(
      [
        [unknownId.transaction_id, "unknown_schema_id"],
        [otherSubject.transaction_id, "unknown_schema_id"],
        [invalid.transaction_id, "schema_violation"],
      ].sort(),
    );
    // The original bytes are kept, header and all.
    const letter = letters.find((m) => m.value!.includes(Buffer.from(unknownId.transaction_id)))!;
    expect(letter.value!.equals(frame(9_999, unknownId))).toBe(true);
  });

  it("registers both schemas with BACKWARD compatibility (library and CLI)", async () => {
    const registry = (await app.rt.registry())!;
    const registered = await registerSchemas(registry, ctx.config.kafka.topics);
    expect(registered.map((r) => r.subject)).toEqual([
      subjectFor(ctx.config.kafka.topics.transactions),
      subjectFor(ctx.config.kafka.topics.decisions),
    ]);
    for (const r of registered) {
      expect(await registry.getCompatibility(r.subject)).toBe(Compatibility.BACKWARD);
    }
    // The transaction schema registered at start-up is the same schema: same id.
    expect(registered[0]!.id).toBe((await app.rt.schemaIds())!.writerId);

    const cli = spawnSentinel(["schemas", "register"], { ...ctx.env, SCHEMA_REGISTRY_URL: "mock://cli" });
    expect(await cli.wait(30_000), cli.output()).toBe(0);
    expect(cli.output()).toMatch(/test-\w+-value: schema id \d+, compatibility BACKWARD/);

    const missing = spawnSentinel(["schemas", "register"], { ...ctx.env, SCHEMA_REGISTRY_URL: "" });
    expect(await missing.wait(30_000)).toBe(1);
    expect(missing.output()).toContain("SCHEMA_REGISTRY_URL is not set");
  });
});

import { randomUUID } from "node:crypto";
import { Compatibility, JsonSerializer, type RestError, SerdeType } from "@confluentinc/schemaregistry";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { jsonSchemas } from "../../src/json-schemas.ts";
import { createRegistryClient, registerSchemas, subjectFor } from "../../src/kafka/schema-registry.ts";
import { createTestContext, sqlClient, type TestContext } from "../support/context.ts";
import { type InProcess, startInProcess } from "../support/in-process.ts";
import { type Proc, spawnSentinel } from "../support/processes.ts";
import { startTcpProxy } from "../support/tcp-proxy.ts";
import { eventually, readAll } from "../support/topics.ts";
import { produceTransactions, testProducer } from "../support/workload.ts";

/*
 * Schema Registry framing, end to end through the real broker, PostgreSQL and Redis. First with the
 * library's in-memory registry (mock://), ingest and consumer in one process as `sentinel all` runs
 * them, a direct producer framing with the library's own JsonSerializer against that registry.
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

type Tx = ReturnType<typeof tx>;

/**
 * On `ctx`'s topic, besides `viaHttp` (already posted) and `viaSerializer` (framed by the library),
 * writes a plain-JSON transaction and three poison messages — framed with an unknown id, with
 * another subject's id, and an `invalid` one framed with the writer's id — then checks that exactly
 * the three good ones are stored, the HTTP one went out framed, and the poison is dead-lettered.
 */
async function mixedTopicChecks(
  ctx: TestContext,
  v: {
    viaHttp: Tx;
    viaSerializer: Tx;
    serialized: Buffer;
    writerId: number;
    otherId: number;
    unknownIdNumber: number;
    invalid: Tx;
  },
) {
  const { topics } = ctx.config.kafka;
  const plain = tx();
  const unknownId = tx();
  const otherSubject = tx();
  const producer = testProducer(ctx.kafka);
  await producer.connect();
  await producer.send({
    topic: topics.transactions,
    acks: -1,
    messages: [
      { key: v.viaSerializer.user_id, value: v.serialized },
      { key: plain.user_id, value: JSON.stringify(plain) },
      { key: unknownId.user_id, value: frame(v.unknownIdNumber, unknownId) },
      { key: otherSubject.user_id, value: frame(v.otherId, otherSubject) },
      { key: v.invalid.user_id, value: frame(v.writerId, v.invalid) },
    ],
  });
  await producer.disconnect();

  const db = await sqlClient(ctx.config);
  try {
    const good = [v.viaHttp, v.viaSerializer, plain].map((t) => t.transaction_id).sort();
    const stored = await eventually(
      async () => Number((await db.query("SELECT count(*) AS n FROM decisions WHERE live")).rows[0].n) === 3,
      60_000,
    );
    expect(stored).toBe(true);
    const { rows } = await db.query("SELECT transaction_id::text AS id FROM transactions ORDER BY 1");
    expect(rows.map((r) => r.id)).toEqual(good);
  } finally {
    await db.end();
  }

  // The HTTP one went onto the topic framed with the registered id.
  const onTopic = await readAll(ctx.kafka, topics.transactions);
  const httpMessage = onTopic.find((m) => m.value!.includes(Buffer.from(v.viaHttp.transaction_id)))!;
  expect(httpMessage.value![0]).toBe(0);
  expect(httpMessage.value!.readUInt32BE(1)).toBe(v.writerId);

  const letters = await readAll(ctx.kafka, topics.dlq);
  const reasons = letters
    .map((m) => [
      JSON.parse(m.value!.subarray(5).toString()).transaction_id,
      m.headers!["x-error-reason"]!.toString(),
    ])
    .sort();
  expect(reasons).toEqual(
    [
      [unknownId.transaction_id, "unknown_schema_id"],
      [otherSubject.transaction_id, "unknown_schema_id"],
      [v.invalid.transaction_id, "schema_violation"],
    ].sort(),
  );
  return { letters, unknownId };
}

describe("Schema Registry framing", () => {
  it("ingests framed and plain values on one topic and dead-letters unknown ids and invalid framed values", async () => {
    const topic = ctx.config.kafka.topics.transactions;
    const registry = (await app.rt.registry())!;
    const writerId = await (await app.rt.schemaIds())!.register();
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

    // 3. plain JSON; 4-6. poison: unknown id, another subject's id, invalid framed value.
    const { letters, unknownId } = await mixedTopicChecks(ctx, {
      viaHttp,
      viaSerializer,
      serialized,
      writerId,
      otherId,
      unknownIdNumber: 9_999,
      invalid: tx({ amount: "-3.00" }),
    });
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
    expect(registered[0]!.id).toBe(await (await app.rt.schemaIds())!.register());

    const cli = spawnSentinel(["schemas", "register"], { ...ctx.env, SCHEMA_REGISTRY_URL: "mock://cli" });
    expect(await cli.wait(30_000), cli.output()).toBe(0);
    expect(cli.output()).toMatch(/test-\w+-value: schema id \d+, compatibility BACKWARD/);

    const missing = spawnSentinel(["schemas", "register"], { ...ctx.env, SCHEMA_REGISTRY_URL: "" });
    expect(await missing.wait(30_000)).toBe(1);
    expect(missing.output()).toContain("SCHEMA_REGISTRY_URL is not set");
  });
});

/*
 * The same against a real Confluent-compatible registry (Apicurio, started by the test setup from
 * Maven Central jars), with ingest and consumer as separate `sentinel` processes that meet only
 * through the registry and the broker.
 */
const registryUrl = inject("services").schemaRegistryUrl;

describe.skipIf(!registryUrl)("Schema Registry framing with a real registry (separate processes)", () => {
  let real: TestContext;
  const procs: Proc[] = [];
  beforeAll(async () => {
    real = await createTestContext({ SCHEMA_REGISTRY_URL: registryUrl!, TOPIC_TRANSACTIONS_PARTITIONS: "2" });
  });
  afterAll(async () => {
    for (const p of procs) await p.stop("SIGKILL");
    await real?.cleanup();
  });

  it("sentinel schemas register, framed ingest, a serializer producer and plain JSON; poison dead-lettered", async () => {
    const topics = real.config.kafka.topics;
    const register = spawnSentinel(["schemas", "register"], real.env);
    expect(await register.wait(60_000), register.output()).toBe(0);
    const ids = Object.fromEntries(
      [...register.stdout().matchAll(/^(\S+): schema id (\d+), compatibility BACKWARD$/gm)].map((m) => [
        m[1],
        Number(m[2]),
      ]),
    );
    const txId = ids[subjectFor(topics.transactions)]!;
    const decisionId = ids[subjectFor(topics.decisions)]!;
    expect(txId).toBeGreaterThan(0);
    expect(decisionId).not.toBe(txId);
    const config = await fetch(`${registryUrl}/config/${subjectFor(topics.transactions)}`);
    expect(((await config.json()) as { compatibilityLevel: string }).compatibilityLevel).toBe("BACKWARD");
    // BACKWARD is enforced: a version that makes an optional field required is refused.
    const v2 = jsonSchemas()["transaction.v1.json"] as { required: string[] };
    const incompatible = { ...v2, required: [...v2.required, "merchant_id"] };
    const refused = await createRegistryClient(registryUrl!)
      .register(
        subjectFor(topics.transactions),
        { schemaType: "JSON", schema: JSON.stringify(incompatible) },
        false,
      )
      .then(
        () => undefined,
        (error: RestError) => error.status,
      );
    expect(refused).toBe(409);

    const ingest = spawnSentinel(["ingest"], { ...real.env, LOG_LEVEL: "info" });
    const consume = spawnSentinel(["consume"], { ...real.env, LOG_LEVEL: "info" });
    procs.push(ingest, consume);
    expect(
      await eventually(async () => /"address":"http:\/\/[^"]+"/.test(ingest.output()), 60_000),
      ingest.output(),
    ).toBe(true);
    const address = ingest.output().match(/"address":"(http:\/\/[^"]+)"/)![1]!;
    expect(
      await eventually(async () => consume.output().includes("scorer running"), 60_000),
      consume.output(),
    ).toBe(true);

    const viaHttp = tx();
    const res = await fetch(`${address}/transaction`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(viaHttp),
    });
    expect(res.status).toBe(202);

    const client = createRegistryClient(registryUrl!);
    const serializer = new JsonSerializer(client, SerdeType.VALUE, { useLatestVersion: true });
    const viaSerializer = tx();
    const serialized = await serializer.serialize(topics.transactions, viaSerializer);
    expect(serialized.readUInt32BE(1)).toBe(txId);
    await mixedTopicChecks(real, {
      viaHttp,
      viaSerializer,
      serialized,
      writerId: txId,
      otherId: decisionId,
      unknownIdNumber: 987_654,
      invalid: tx({ currency: "XXX" }),
    });
  }, 180_000);
});

describe.skipIf(!registryUrl)("a registry outage", () => {
  it("delays framed values (retried, never dead-lettered) and never blocks start-up or plain JSON", async () => {
    const target = new URL(registryUrl!);
    const proxy = await startTcpProxy(target.hostname, Number(target.port));
    proxy.down();
    const ctx2 = await createTestContext({
      SCHEMA_REGISTRY_URL: `http://127.0.0.1:${proxy.port}${target.pathname}`,
      TOPIC_TRANSACTIONS_PARTITIONS: "1",
    });
    const consume = spawnSentinel(["consume"], { ...ctx2.env, LOG_LEVEL: "info" });
    const db = await sqlClient(ctx2.config);
    try {
      const topics = ctx2.config.kafka.topics;
      // The producer team registered the schema while our path to the registry is cut.
      const id = await createRegistryClient(registryUrl!).register(
        subjectFor(topics.transactions),
        { schemaType: "JSON", schema: JSON.stringify(jsonSchemas()["transaction.v1.json"]) },
        false,
      );
      expect(
        await eventually(async () => consume.output().includes("scorer running"), 60_000),
        consume.output(),
      ).toBe(true);
      expect(consume.output()).toContain("schema registry unreachable");

      const stored = async () => Number((await db.query("SELECT count(*) AS n FROM transactions")).rows[0].n);
      const plain = tx();
      await produceTransactions(ctx2.kafka, topics.transactions, [plain]);
      expect(await eventually(async () => (await stored()) === 1, 30_000)).toBe(true);

      const framed = tx();
      const producer = testProducer(ctx2.kafka);
      await producer.connect();
      await producer.send({
        topic: topics.transactions,
        acks: -1,
        messages: [{ key: framed.user_id, value: frame(id, framed) }],
      });
      await producer.disconnect();
      await new Promise((r) => setTimeout(r, 3_000));
      expect(await stored()).toBe(1);
      expect(await readAll(ctx2.kafka, topics.dlq, 5_000)).toHaveLength(0);

      proxy.up();
      expect(await eventually(async () => (await stored()) === 2, 30_000), consume.output()).toBe(true);
      expect(await readAll(ctx2.kafka, topics.dlq, 5_000)).toHaveLength(0);
      expect(consume.output()).toContain("registry_unavailable");
    } finally {
      await consume.stop("SIGKILL");
      await db.end();
      await proxy.close();
      await ctx2.cleanup();
    }
  }, 120_000);
});

import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { buildApp } from "../../../src/app/build-app.ts";
import { loadConfig } from "../../../src/config.ts";
import type { Transaction } from "../../../src/domain/transaction.ts";
import { SentinelError } from "../../../src/errors.ts";
import { createLogger } from "../../../src/logger.ts";
import { createMetrics } from "../../../src/metrics.ts";

/*
 * The HTTP contract, driven with inject(). Publishing is a recorded function here; the
 * integration tests publish to the real broker.
 */

const KEY = "k".repeat(32);
let app: FastifyInstance;

async function build(env: Record<string, string> = {}, publish?: (tx: Transaction) => Promise<void>) {
  const config = loadConfig({ LOG_LEVEL: "silent", ...env });
  const published: Transaction[] = [];
  app = await buildApp({
    config,
    logger: createLogger(config),
    metrics: createMetrics({ defaults: false }),
    readiness: async () => ({ kafka: true, postgres: true, redis: false }),
    transactions: {
      publishTransaction:
        publish ??
        (async (tx) => {
          published.push(tx);
        }),
      transactions: { getTransaction: async () => null },
    },
    profiles: {
      profiles: {
        get: async () => null,
        upsert: async () => {
          throw new Error("unused");
        },
      },
      refreshCachedProfile: async () => {},
    },
  });
  return published;
}

afterEach(async () => {
  await app?.close();
});

const post = (payload: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: "POST", url: "/transaction", payload: payload as object, headers });

describe("POST /transaction", () => {
  it("answers 202 with an assigned UUIDv7 and publishes the full transaction", async () => {
    const published = await build();
    const res = await post({ user_id: "u1", amount: "12.50", currency: "USD" });
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body.status).toBe("accepted");
    expect(body.transaction_id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      transaction_id: body.transaction_id,
      user_id: "u1",
      amount: "12.50",
    });
    expect(Date.parse(published[0]!.timestamp!)).toBeGreaterThan(Date.now() - 10_000);
  });

  it("keeps a client's transaction_id", async () => {
    await build();
    const id = "0190a6e4-8e3c-7c53-a2b1-1f2e3d4c5b6a";
    const res = await post({ transaction_id: id, user_id: "u1", amount: "1", currency: "USD" });
    expect(res.json().transaction_id).toBe(id);
  });

  it("lists every bad field in a 400", async () => {
    await build();
    const res = await post({ user_id: "", amount: "1.001", currency: "USD", colour: "red" });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error).toBe("validation_failed");
    expect(body.issues.map((i: { path: string }) => i.path).sort()).toEqual(["amount", "colour", "user_id"]);
  });

  it("refuses card numbers with pan_not_allowed", async () => {
    await build();
    const res = await post({ user_id: "u1", amount: "1", currency: "USD", device_id: "4111111111111111" });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe("pan_not_allowed");
  });

  it("answers 400 to malformed JSON, 415 to other media types, 413 past 16 KiB", async () => {
    await build();
    const bad = await app.inject({
      method: "POST",
      url: "/transaction",
      payload: "{nope",
      headers: { "content-type": "application/json" },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toBe("malformed_json");
    const text = await app.inject({
      method: "POST",
      url: "/transaction",
      payload: "hello",
      headers: { "content-type": "text/plain" },
    });
    expect(text.statusCode).toBe(415);
    const big = await post({ user_id: "u1", amount: "1", currency: "USD", device_id: "x".repeat(17_000) });
    expect(big.statusCode).toBe(413);
  });

  it("answers 503 with Retry-After and the id when Kafka cannot take it", async () => {
    await build({}, async () => {
      throw new SentinelError("unavailable", "Kafka did not acknowledge within 2000 ms");
    });
    const res = await post({ user_id: "u1", amount: "1", currency: "USD" });
    expect(res.statusCode).toBe(503);
    expect(res.headers["retry-after"]).toBe("1");
    expect(res.json().error).toBe("unavailable");
    expect(res.json().transaction_id).toBeTypeOf("string");
  });
});

describe("hostile bodies (issue 20)", () => {
  const nested = (depth: number, open: string, close: string, inner = '"4111111111111111"') =>
    open.repeat(depth) + inner + close.repeat(depth);

  it("answers 400 naming the depth, never 500, to a body nested 100,000 levels", async () => {
    // Before issue 20 the recursive card-number scan overflowed the stack here: 500.
    await build({ BODY_LIMIT_BYTES: "1048576" });
    for (const body of [nested(100_000, "[", "]"), `{"user_id":${nested(100_000, '{"a":', "}")}}`]) {
      const res = await post(body, { "content-type": "application/json" });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: "validation_failed",
        issues: [{ path: "(body)", message: "nested deeper than 64 levels" }],
      });
    }
  });

  it("answers every nesting depth up to 100,000 with a 4xx (fuzz)", async () => {
    await build({ BODY_LIMIT_BYTES: "1048576" });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 100_000 }),
        fc.constantFrom(["[", "]"], ['{"k":', "}"], ['{"metadata":', "}"]),
        async (depth, [open, close]) => {
          const res = await post(nested(depth, open!, close!), { "content-type": "application/json" });
          expect(res.statusCode).toBeGreaterThanOrEqual(400);
          expect(res.statusCode).toBeLessThan(500);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("API keys", () => {
  it("requires x-api-key on business routes only when keys are configured", async () => {
    await build({ API_KEYS: `${KEY},admin:second:${"z".repeat(32)}` });
    expect((await post({ user_id: "u1", amount: "1", currency: "USD" })).statusCode).toBe(401);
    expect(
      (await post({ user_id: "u1", amount: "1", currency: "USD" }, { "x-api-key": "wrong" })).statusCode,
    ).toBe(401);
    expect(
      (await post({ user_id: "u1", amount: "1", currency: "USD" }, { "x-api-key": KEY })).statusCode,
    ).toBe(202);
    expect(
      (await post({ user_id: "u1", amount: "1", currency: "USD" }, { "x-api-key": "z".repeat(32) }))
        .statusCode,
    ).toBe(202);
    expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(200);
  });

  it("admits each role to its routes and answers 403 naming the role needed", async () => {
    const ingest = "i".repeat(20);
    const analyst = "a".repeat(20);
    await build({ API_KEYS: `ingest:${ingest},analyst:${analyst},${KEY}` });
    const body = { user_id: "u1", amount: "1", currency: "USD" };
    expect((await post(body, { "x-api-key": ingest })).statusCode).toBe(202);
    const forbidden = await post(body, { "x-api-key": analyst });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json()).toMatchObject({ error: "forbidden", required_role: "ingest" });
    expect(forbidden.json().message).toMatch(
      /needs a key with the ingest role \(or admin\); yours is analyst/,
    );
    const profile = (key: string) =>
      app.inject({
        method: "PUT",
        url: "/users/u1/profile",
        headers: { "x-api-key": key },
        payload: { home_country: "US", currency: "USD", per_transaction_limit: "1", daily_limit: "1" },
      });
    expect((await profile(analyst)).json()).toMatchObject({ error: "forbidden", required_role: "admin" });
    expect((await profile(ingest)).statusCode).toBe(403);
    // GET /transaction/:id: ingest and analyst both read; an admin key (no role) goes everywhere.
    const get = (key: string) =>
      app.inject({
        method: "GET",
        url: "/transaction/0190a6e4-8e3c-7c53-a2b1-1f2e3d4c5b6a",
        headers: { "x-api-key": key },
      });
    expect((await get(ingest)).statusCode).toBe(404);
    expect((await get(analyst)).statusCode).toBe(404);
    expect((await get(KEY)).statusCode).toBe(404);
    expect((await post(body, { "x-api-key": KEY })).statusCode).toBe(202);
  });
});

describe("operations", () => {
  it("reports readiness per dependency", async () => {
    await build();
    const res = await app.inject({ method: "GET", url: "/readyz" });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      status: "unavailable",
      checks: { kafka: true, postgres: true, redis: false },
    });
  });

  it("exposes request metrics and an OpenAPI document", async () => {
    await build();
    await post({ user_id: "u1", amount: "1", currency: "USD" });
    await post({ user_id: "u1" });
    const metrics = (await app.inject({ method: "GET", url: "/metrics" })).body;
    expect(metrics).toContain(
      'sentinel_http_request_duration_seconds_count{method="POST",route="/transaction",status="202"} 1',
    );
    expect(metrics).toContain('sentinel_ingest_rejected_total{reason="validation_failed"} 1');
    expect(metrics).toContain("sentinel_ingest_accepted_total 1");
    const doc = (await app.inject({ method: "GET", url: "/docs/json" })).json();
    expect(
      doc.paths["/transaction"].post.requestBody.content["application/json"].schema.properties.currency.enum,
    ).toContain("USD");
  });

  it("answers 404 for an unknown transaction and 400 for a bad id", async () => {
    await build();
    expect(
      (await app.inject({ method: "GET", url: "/transaction/0190a6e4-8e3c-7c53-a2b1-1f2e3d4c5b6a" }))
        .statusCode,
    ).toBe(404);
    expect((await app.inject({ method: "GET", url: "/transaction/nope" })).statusCode).toBe(400);
  });
});

import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import { afterAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { buildHttp } from "../../src/http/build.ts";
import { createLogger } from "../../src/logger.ts";
import { createMetrics } from "../../src/metrics.ts";

/*
 * Issue 35, item 8: one count per key across every ingress process — two apps sharing the real
 * Redis, as two ingress processes do, share the key's limit.
 */

const KEY = "k".repeat(32);
const apps: FastifyInstance[] = [];
const redis = new Redis(inject("services").redisUrl);
const prefix = `test-rl-${randomBytes(4).toString("hex")}:`;

async function ingress() {
  const config = loadConfig({
    LOG_LEVEL: "silent",
    API_KEYS: `analyst:ann:${KEY}`,
    RATE_LIMIT_PER_MINUTE: "4",
  });
  const app = await buildHttp(
    {
      config,
      logger: createLogger(config),
      metrics: createMetrics({ defaults: false }),
      readiness: async () => ({}),
      rateLimitStore: { redis, keyPrefix: prefix },
    },
    {
      async keyed(scope) {
        scope.get("/cases", { config: { roles: ["analyst"] } }, async () => ({ cases: [] }));
      },
    },
  );
  apps.push(app);
  return app;
}

afterAll(async () => {
  for (const app of apps) await app.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe("rate limits across ingress processes", () => {
  it("count a key's requests in Redis: two processes share its limit", async () => {
    const [a, b] = [await ingress(), await ingress()];
    const get = (app: FastifyInstance) =>
      app.inject({ method: "GET", url: "/cases", headers: { "x-api-key": KEY } });
    const statuses = [];
    for (const app of [a, b, a, b, a, b]) statuses.push((await get(app)).statusCode);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    expect((await redis.keys(`${prefix}*`)).length).toBeGreaterThan(0);
  });
});

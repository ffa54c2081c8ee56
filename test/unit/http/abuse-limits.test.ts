import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.ts";
import { buildHttp } from "../../../src/http/build.ts";
import { startOpsServer } from "../../../src/http/ops-server.ts";
import { createLogger } from "../../../src/logger.ts";
import { createMetrics } from "../../../src/metrics.ts";

/*
 * Issue 35, item 8: per-key rate limits on every keyed route, and /metrics and /docs off the API
 * port when an internal port is configured. (The count shared by every ingress through Redis is
 * test/integration/rate-limit.test.ts.)
 */

const ANALYST = "a".repeat(32);
const INGEST = "i".repeat(32);
let app: FastifyInstance;

async function build(env: Record<string, string>) {
  const config = loadConfig({
    LOG_LEVEL: "silent",
    API_KEYS: `analyst:ann:${ANALYST},ingest:gw:${INGEST}`,
    ...env,
  });
  app = await buildHttp(
    {
      config,
      logger: createLogger(config),
      metrics: createMetrics({ defaults: false }),
      readiness: async () => ({}),
    },
    {
      async keyed(scope) {
        scope.get("/cases", { config: { roles: ["analyst", "ingest"] } }, async () => ({ cases: [] }));
      },
    },
  );
}

afterEach(async () => {
  await app?.close();
});

const get = (key: string, url = "/cases") =>
  app.inject({ method: "GET", url, headers: { "x-api-key": key } });

describe("per-key rate limits", () => {
  it("a key past its limit gets 429 rate_limited with retry-after; another key keeps its own count", async () => {
    await build({ RATE_LIMIT_PER_MINUTE: "3", RATE_LIMIT_INGEST_PER_MINUTE: "5" });
    for (let i = 0; i < 3; i++) expect((await get(ANALYST)).statusCode).toBe(200);
    const limited = await get(ANALYST);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error).toBe("rate_limited");
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) expect((await get(INGEST)).statusCode).toBe(200);
    expect((await get(INGEST)).statusCode).toBe(429);
  });

  it("0 turns a limit off", async () => {
    await build({ RATE_LIMIT_PER_MINUTE: "0" });
    for (let i = 0; i < 20; i++) expect((await get(ANALYST)).statusCode).toBe(200);
  });
});

describe("an internal port", () => {
  it("takes /metrics and /docs off the API port, and serves them itself", async () => {
    await build({});
    expect((await app.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(200);
    await app.close();
    await build({ HTTP_INTERNAL_PORT: "9999" });
    expect((await app.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(404);
    expect((await app.inject({ method: "GET", url: "/docs/json" })).statusCode).toBe(404);
    expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    await app.ready();
    const config = loadConfig({ LOG_LEVEL: "silent" });
    const ops = await startOpsServer({
      host: "127.0.0.1",
      port: 0,
      logger: createLogger(config),
      readiness: async () => ({}),
      metrics: createMetrics({ defaults: false }),
      docs: () => app.swagger(),
    });
    try {
      expect((await fetch(`${ops.address}/metrics`)).status).toBe(200);
      const docs = (await (await fetch(`${ops.address}/docs/json`)).json()) as {
        paths: Record<string, unknown>;
      };
      expect(Object.keys(docs.paths)).toContain("/cases");
    } finally {
      await ops.stop();
    }
  });
});

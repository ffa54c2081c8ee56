import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.ts";
import { buildHttp } from "../../../src/http/build.ts";
import { createLogger } from "../../../src/logger.ts";
import { createMetrics } from "../../../src/metrics.ts";

/*
 * Issue 35, item 2: DNS rebinding and cross-site requests. Before this, with AUTH_DISABLED=true
 * every caller was admin whatever its Host, and a cross-site form or text/plain POST reached
 * `rollback` and `activate` (body-less POSTs).
 */

let app: FastifyInstance;
const changes: string[] = [];

async function build(env: Record<string, string>) {
  const config = loadConfig({ LOG_LEVEL: "silent", ...env });
  app = await buildHttp(
    {
      config,
      logger: createLogger(config),
      metrics: createMetrics({ defaults: false }),
      readiness: async () => ({}),
    },
    {
      async keyed(scope) {
        scope.get("/rules", async () => ({ versions: [] }));
        scope.post("/rules/rollback", async () => {
          changes.push("rollback");
          return { rolled_back: true };
        });
        scope.post("/lists/x", async (request) => {
          changes.push(`list ${JSON.stringify(request.body)}`);
          return { ok: true };
        });
      },
    },
  );
}

afterEach(async () => {
  changes.length = 0;
  await app?.close();
});

const rollback = (headers: Record<string, string>) =>
  app.inject({ method: "POST", url: "/rules/rollback", headers });

describe("with authentication off (every caller is admin)", () => {
  it("serves only a loopback Host: a rebound name gets 403 and changes nothing", async () => {
    await build({ AUTH_DISABLED: "true", HOST: "127.0.0.1" });
    for (const host of ["attacker.example", "attacker.example:8080", "10.0.0.5:8080"]) {
      const res = await rollback({ host, "content-type": "application/json" });
      expect(res.statusCode, host).toBe(403);
      expect(res.json().reason).toBe("host_not_loopback");
      expect((await app.inject({ method: "GET", url: "/rules", headers: { host } })).statusCode).toBe(403);
    }
    for (const host of ["localhost:8080", "127.0.0.1:8080", "[::1]:8080", "localhost"]) {
      expect((await rollback({ host, "content-type": "application/json" })).statusCode, host).toBe(200);
    }
    expect(changes).toEqual(["rollback", "rollback", "rollback", "rollback"]);
  });
});

describe("in every mode", () => {
  const ADMIN = "a".repeat(32);

  it("refuses a state change that says it is cross-site, or comes from another origin", async () => {
    await build({ API_KEYS: `admin:ops:${ADMIN}` });
    const base = { host: "sentinel.internal:8080", "x-api-key": ADMIN, "content-type": "application/json" };
    const crossSite = await rollback({ ...base, "sec-fetch-site": "cross-site" });
    expect(crossSite.statusCode).toBe(403);
    expect(crossSite.json().reason).toBe("cross_site");
    for (const origin of ["https://evil.example", "null", "http://sentinel.internal:9999"]) {
      const res = await rollback({ ...base, origin });
      expect(res.statusCode, origin).toBe(403);
      expect(res.json().reason).toBe("cross_origin");
    }
    expect(changes).toEqual([]);
    // The console's own requests: same origin.
    const own = await rollback({
      ...base,
      origin: "http://sentinel.internal:8080",
      "sec-fetch-site": "same-origin",
    });
    expect(own.statusCode).toBe(200);
    // Reading is not a change: a cross-site GET is not refused here (the key still guards it).
    expect(
      (
        await app.inject({
          method: "GET",
          url: "/rules",
          headers: { ...base, "sec-fetch-site": "cross-site" },
        })
      ).statusCode,
    ).toBe(200);
  });

  it("requires application/json on every POST, body or not: a simple request reaches no route", async () => {
    await build({ API_KEYS: `admin:ops:${ADMIN}` });
    const key = { "x-api-key": ADMIN };
    expect((await rollback(key)).statusCode).toBe(415); // no content type, no body
    expect((await rollback({ ...key, "content-type": "text/plain" })).statusCode).toBe(415);
    const form = await app.inject({
      method: "POST",
      url: "/lists/x",
      headers: { ...key, "content-type": "application/x-www-form-urlencoded" },
      payload: "add=1",
    });
    expect(form.statusCode).toBe(415);
    expect(changes).toEqual([]);
    // JSON with no body is a body-less POST; with a body it is parsed as before.
    expect((await rollback({ ...key, "content-type": "application/json" })).statusCode).toBe(200);
    const listed = await app.inject({
      method: "POST",
      url: "/lists/x",
      headers: { ...key, "content-type": "application/json; charset=utf-8" },
      payload: '{"add":["a"]}',
    });
    expect(listed.statusCode).toBe(200);
    expect(changes).toEqual(["rollback", 'list {"add":["a"]}']);
  });
});

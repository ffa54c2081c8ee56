import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.ts";
import { buildHttp } from "../../../src/http/build.ts";
import { createMetrics } from "../../../src/metrics.ts";

/*
 * Issue 35, item 3: before this, a NUL in a query parameter reached PostgreSQL (a 5xx), and the
 * request's full URL — with a card number in it — went to the log.
 */

let app: FastifyInstance;
const lines: string[] = [];
const queries: unknown[] = [];

async function build() {
  const config = loadConfig({ LOG_LEVEL: "debug", AUTH_DISABLED: "true", HOST: "127.0.0.1" });
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
  app = await buildHttp(
    { config, logger, metrics: createMetrics({ defaults: false }), readiness: async () => ({}) },
    {
      async keyed(scope) {
        scope.get("/cases", async (request) => {
          queries.push(request.query);
          return { cases: [] };
        });
        scope.get<{ Params: { id: string } }>("/things/:id", async () => {
          throw new Error("the store refused it");
        });
      },
    },
  );
}

afterEach(async () => {
  lines.length = 0;
  queries.length = 0;
  await app?.close();
});

describe("path and query parameters", () => {
  it("a control character in any of them is a 400 naming the parameter, and no route runs", async () => {
    await build();
    for (const [url, where] of [
      ["/cases?assignee=ann%00", "query.assignee"],
      ["/cases?status=open&q=a%0Ab", "query.q"],
      ["/cases?q=%7F", "query.q"],
      ["/things/abc%00def", "path.id"],
    ] as const) {
      const res = await app.inject({ method: "GET", url });
      expect(res.statusCode, url).toBe(400);
      expect(res.json()).toMatchObject({ error: "validation_failed", issues: [{ path: where }] });
    }
    expect(queries).toEqual([]);
    expect((await app.inject({ method: "GET", url: "/cases?assignee=ann%20lee" })).statusCode).toBe(200);
  });

  it("a card number in any of them is 400 pan_not_allowed, the parameter's name masked (issue 35, item 4)", async () => {
    await build();
    for (const url of [
      "/cases?q=4111111111111111",
      "/cases?q=4111%091111%0A1111%2C1111".replace(/%0A|%09/g, "%20"),
      "/cases?q=%EF%BC%94%EF%BC%91%EF%BC%91%EF%BC%91111111111111", // full-width digits
      "/things/4111-1111-1111-1111",
    ]) {
      const res = await app.inject({ method: "GET", url });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error).toBe("pan_not_allowed");
      expect(res.body).not.toMatch(/4111111111111111|4111-1111-1111-1111/);
    }
    expect(queries).toEqual([]);
  });

  it("log lines name the route's template and masked parameters, never the URL", async () => {
    await build();
    const pan = "4111111111111111";
    const res = await app.inject({ method: "GET", url: `/things/ref-77?note=second` });
    expect(res.statusCode).toBe(500);
    await app.inject({ method: "GET", url: `/cases?q=${pan}` });
    await app.inject({ method: "GET", url: `/things/${pan}` });
    const logged = lines.join("\n");
    expect(logged).toContain('"route":"/things/:id"');
    expect(logged).toContain('"params":{"id":"ref-77"}');
    expect(logged).toContain('"route":"/cases"');
    expect(logged).not.toContain(pan);
    expect(logged).not.toContain("/things/4");
    const notFound = await app.inject({ method: "GET", url: `/nothing/${pan}` });
    expect(notFound.statusCode).toBe(400); // the card number in the path is refused before the 404
    expect(notFound.body).not.toContain(pan);
    const missing = await app.inject({ method: "GET", url: "/nothing/here" });
    expect(missing.statusCode).toBe(404);
  });
});

import { createCaseFeed } from "../cases/case-feed.ts";
import { loadConfig } from "../config.ts";
import { ERROR_CODES } from "../errors.ts";
import { createLogger } from "../logger.ts";
import { createMetrics } from "../metrics.ts";
import { buildApp } from "./build-app.ts";

/*
 * The route and error tables of docs/http-api.md, generated from the OpenAPI document of the app
 * itself (every plugin registered, nothing listening, no client connected) and from the error
 * catalogue, so the page cannot name a route, a role or an error code that does not exist.
 */

type Operation = { summary?: string; "x-roles"?: string[]; security?: unknown[] };

/** Nothing is called while routes are registered: the stores and clients are never reached. */
const unused = {} as never;

export async function routeTableMarkdown(): Promise<string> {
  const config = loadConfig({ API_KEYS: `admin:${"x".repeat(32)}`, LOG_LEVEL: "silent" });
  const app = await buildApp({
    config,
    logger: createLogger(config),
    metrics: createMetrics({ defaults: false }),
    readiness: async () => ({}),
    transactions: { publishTransaction: unused, transactions: unused },
    profiles: { profiles: unused, refreshCachedProfile: unused },
    rules: { rulesStore: unused, changes: unused },
    changes: { changes: unused },
    audit: { listAudit: unused },
    webhooks: {
      endpoints: unused,
      changes: unused,
      deliveries: unused,
      allowPrivate: false,
      secretOverlapMs: 0,
    },
    analyst: {
      cases: {
        cases: unused,
        actions: unused,
        supervision: unused,
        transactions: unused,
        refreshCachedProfile: unused,
        labels: unused,
        feed: createCaseFeed(),
      },
      labels: { actions: unused, labels: unused, rulePerformance: unused },
    },
  });
  await app.ready();
  const doc = app.swagger() as { paths: Record<string, Record<string, Operation>> };
  await app.close();
  const rows = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => {
      const who = op["x-roles"] ? op["x-roles"].join(", ") : "open";
      return `| \`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}\` | ${who} | ${op.summary ?? ""} |`;
    }),
  );
  const codes = Object.entries(ERROR_CODES).map(
    ([code, e]) =>
      `| \`${code}\` | ${e.status} | ${e.retryable ? "yes: retry after the `retry-after` seconds" : "no"} |`,
  );
  return [
    "| route | roles (key) | what it does |",
    "| --- | --- | --- |",
    ...rows,
    "",
    "Every error body is `{error, message}` (or `{error, issues: [{path, message}]}` for a refused body or",
    'parameter) with one of these codes; an outage answers `503 {error: "unavailable"}` whatever its code.',
    "",
    "| error | status | retryable |",
    "| --- | --- | --- |",
    ...codes,
  ].join("\n");
}

import type { FastifyPluginAsync } from "fastify";
import type { Metrics } from "../metrics.ts";

/** Named checks, each true when its dependency answers. */
export type Readiness = () => Promise<Record<string, boolean>>;

export type OpsPluginDeps = {
  readiness: Readiness;
  metrics: Metrics;
  /** False on an API port when an internal port serves /metrics (issue 35). */
  serveMetrics?: boolean;
  /** The API's OpenAPI document, served at /docs/json (on an internal port). */
  docs?: () => unknown;
};

/** Health, readiness and Prometheus metrics: open routes, on the API port and the metrics port. */
export const opsPlugin: FastifyPluginAsync<OpsPluginDeps> = async (app, deps) => {
  app.get("/healthz", { schema: { summary: "The process is alive" } }, async () => ({ status: "ok" }));

  app.get(
    "/readyz",
    { schema: { summary: "Kafka, PostgreSQL and Redis are reachable" } },
    async (_req, reply) => {
      const checks = await deps.readiness();
      const ready = Object.values(checks).every(Boolean);
      return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "unavailable", checks });
    },
  );

  if (deps.serveMetrics !== false) {
    app.get("/metrics", { schema: { summary: "Prometheus metrics" } }, async (_req, reply) => {
      reply.header("content-type", deps.metrics.registry.contentType);
      return deps.metrics.registry.metrics();
    });
  }
  const docs = deps.docs;
  if (docs) app.get("/docs/json", { schema: { hide: true } }, async () => docs());
};

/**
 * Samples the readiness checks every `everyMs` into the `sentinel_ready` gauge, for alerts (a
 * scrape never waits on the checks). Returns the stop function.
 */
export function sampleReadiness(readiness: Readiness, metrics: Metrics, everyMs = 10_000): () => void {
  let running = false;
  const sample = async () => {
    if (running) return;
    running = true;
    try {
      for (const [check, ok] of Object.entries(await readiness()))
        metrics.ops.ready.set({ check }, ok ? 1 : 0);
    } catch {
      // a check that throws is reported by the next sample
    } finally {
      running = false;
    }
  };
  void sample();
  const timer = setInterval(() => void sample(), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

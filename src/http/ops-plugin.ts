import type { FastifyPluginAsync } from "fastify";
import type { Metrics } from "../metrics.ts";

/** Named checks, each true when its dependency answers. */
export type Readiness = () => Promise<Record<string, boolean>>;

export type OpsPluginDeps = { readiness: Readiness; metrics: Metrics };

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

  app.get("/metrics", { schema: { summary: "Prometheus metrics" } }, async (_req, reply) => {
    reply.header("content-type", deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
};

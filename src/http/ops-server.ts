import Fastify, { type FastifyBaseLogger, LogController } from "fastify";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { opsPlugin, type Readiness } from "./ops-plugin.ts";

/*
 * /metrics, /healthz and /readyz (and the API's /docs/json when given) on a port of their own: the
 * metrics port of a process without the ingress, or the ingress's internal port (issue 35: what
 * the process exposes of itself stays off the API's port, on an internal interface).
 */
export async function startOpsServer({
  host,
  port,
  logger,
  readiness,
  metrics,
  docs,
}: {
  host: string;
  port: number;
  logger: Logger;
  readiness: Readiness;
  metrics: Metrics;
  docs?: () => unknown;
}): Promise<{ address: string; stop(): Promise<void> }> {
  const ops = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  await ops.register(opsPlugin, { readiness, metrics, ...(docs ? { docs } : {}) });
  const address = await ops.listen({ host, port });
  return { address, stop: () => ops.close() };
}

import Fastify, { type FastifyBaseLogger, LogController } from "fastify";
import type { Config } from "../config.ts";
import { startConsumer } from "../consumer/main.ts";
import { startIngest } from "../ingest/main.ts";
import { registerOpsRoutes } from "../ingest/routes/ops.ts";
import type { Logger } from "../logger.ts";
import { createRuntime } from "../runtime.ts";

export type Parts = { ingest: boolean; consumer: boolean };

/**
 * Runs the chosen parts in this process until SIGTERM/SIGINT, then shuts down in order: stop
 * accepting HTTP and finish in-flight requests, flush the producer, leave the consumer group,
 * close the clients. Exits 0 when that finishes within SHUTDOWN_TIMEOUT_MS, 1 otherwise.
 * Signals are handled from the first moment, so a stop during start-up is clean too.
 */
export async function serve(config: Config, logger: Logger, parts: Parts): Promise<void> {
  const stops: Array<{ name: string; stop: () => Promise<void> }> = [];
  let close: (() => Promise<void>) | undefined;
  let stopping = false;

  const shutdown = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "shutting down");
    // What is still stopping when time runs out is named in the log.
    const pending = new Set<string>();
    const step = async (name: string, run: () => Promise<void>) => {
      pending.add(name);
      await run();
      pending.delete(name);
    };
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs, pending: [...pending] }, "shutdown timed out");
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    try {
      await Promise.all(stops.map(({ name, stop }) => step(name, stop)));
      if (close) await step("clients", close);
      logger.info("stopped");
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, "shutdown failed");
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));

  const rt = await createRuntime(config, logger);
  close = () => rt.close();
  if (stopping) return;

  if (parts.ingest) {
    const ingest = await startIngest(rt);
    stops.push({ name: "ingest", stop: ingest.stop });
    logger.info({ address: ingest.address }, "ingest listening");
  } else if (config.http.metricsPort > 0) {
    const ops = Fastify({
      loggerInstance: logger as FastifyBaseLogger,
      logController: new LogController({ disableRequestLogging: true }),
    });
    registerOpsRoutes(ops, { readiness: () => rt.readiness(), metrics: rt.metrics });
    try {
      await ops.listen({ host: config.http.host, port: config.http.metricsPort });
      stops.push({ name: "metrics endpoint", stop: () => ops.close() });
    } catch (error) {
      logger.warn(
        { err: (error as Error).message, port: config.http.metricsPort },
        "metrics endpoint not started",
      );
    }
  }
  if (parts.consumer && !stopping) {
    const scorer = await startConsumer(rt);
    stops.push({ name: "consumer", stop: () => scorer.stop() });
  }
}

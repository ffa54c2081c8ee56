import type { Config } from "../config.ts";
import type { Scorer } from "../consumer/scorer.ts";
import { SentinelError } from "../errors.ts";
import { type Readiness, sampleReadiness } from "../http/ops-plugin.ts";
import { startOpsServer } from "../http/ops-server.ts";
import type { RunningIngest } from "../ingest/main.ts";
import { checkKafkaAccess } from "../kafka/preflight.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { createRuntime, dependenciesOf, type Runtime } from "../runtime.ts";
import { startTracing } from "../tracing.ts";

export type Parts = { ingest: boolean; consumer: boolean; webhooks?: boolean };

/** The topics a process's parts use (the start-up check asks to see each). */
export function topicsOf(config: Config, parts: Parts): string[] {
  const t = config.kafka.topics;
  const topics = new Set<string>();
  if (parts.ingest) for (const x of [t.transactions, t.labels, t.events, t.decisions, t.dlq]) topics.add(x);
  if (parts.consumer) for (const x of [t.transactions, t.decisions, t.dlq]) topics.add(x);
  if (parts.webhooks) for (const x of [t.decisions, t.labels, t.events, t.dlq]) topics.add(x);
  return [...topics];
}

/**
 * What must hold before anything starts (issue 34): webhooks never seal secrets with the
 * development key but under `sentinel dev`, and a production start passes `sentinel doctor`'s
 * checks (or waives them by name). A failure ends the process (exit 2), naming every item.
 */
async function startChecksOrExit(config: Config, logger: Logger, parts: Parts): Promise<void> {
  const lines: string[] = [];
  if (parts.webhooks && config.webhooks.secretKeyIsDevelopment && !config.devMode && config.env !== "test")
    lines.push(
      "WEBHOOK_SECRET_KEY: required wherever webhooks run (only `sentinel dev` uses a development key)",
    );
  const { productionRefusal } = await import("../ops/doctor.ts");
  lines.push(...(await productionRefusal(config, logger)));
  if (lines.length === 0) return;
  const where = config.env === "production" ? " in production" : "";
  process.stderr.write(
    `sentinel: refusing to start${where}:\n${lines.map((l) => `  ${l}`).join("\n")}\n(\`sentinel doctor\` shows the checklist; DOCTOR_WAIVE=<name>,… waives a check)\n`,
  );
  process.exit(2);
}

/**
 * The scorer, and the retention job beside it. A consumer that kafkajs gave up on consumes
 * nothing: the process exits 1 (onFatal) so its supervisor restarts it, rather than staying up
 * and looking healthy.
 */
async function startConsumerPart(
  rt: Runtime,
  onFatal: (error: Error) => void,
  stops: Array<{ name: string; stop: () => Promise<void> }>,
): Promise<Scorer> {
  const { startConsumer } = await import("../consumer/main.ts");
  const running = await startConsumer(rt, { onFatal });
  stops.push({ name: "consumer", stop: () => running.stop() });
  const { startRetentionLoop } = await import("../store/retention.ts");
  const stopRetention = startRetentionLoop(
    rt.pool,
    rt.config.retention,
    rt.logger.child({ component: "retention" }),
  );
  stops.push({ name: "retention", stop: async () => stopRetention() });
  return running;
}

/** The start-up check of Kafka (src/kafka/preflight.ts): a refusal ends the process (exit 2). */
async function kafkaAccessOrExit(rt: Runtime, parts: Parts): Promise<void> {
  const { config, logger } = rt;
  try {
    const unreachable = await checkKafkaAccess(rt.kafka, topicsOf(config, parts), {
      brokers: config.kafka.brokers,
      security: config.kafka.security,
    });
    if (unreachable)
      logger.warn({ err: unreachable }, "kafka not reachable yet; starting, the clients keep trying");
  } catch (error) {
    process.stderr.write(`sentinel: ${(error as Error).message}\n`);
    await rt.close().catch(() => {});
    process.exit(2);
  }
}

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

  /** `signal`: what asked for the stop; `failure`: the process stops because a part failed (exit 1). */
  const shutdown = async (signal: string, failure = false) => {
    if (stopping) {
      if (failure) return; // already stopping
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    if (failure) logger.error({ reason: signal }, "shutting down after a failure");
    else logger.info({ signal }, "shutting down");
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
      process.exit(failure ? 1 : 0);
    } catch (error) {
      logger.error({ err: error }, "shutdown failed");
      process.exit(1);
    }
  };
  /** A part kafkajs gave up on ends the process (exit 1), for its supervisor to restart it. */
  const fatal = (part: string) => (error: Error) => {
    logger.fatal({ err: error }, `${part} crashed and will not restart`);
    void shutdown(`${part} crashed`, true);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));

  // Spans exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set (src/tracing.ts).
  const stopTracing = startTracing(
    parts.ingest && parts.consumer
      ? "sentinel"
      : parts.ingest
        ? "sentinel-ingest"
        : parts.consumer
          ? "sentinel-consume"
          : "sentinel-webhooks",
  );
  await startChecksOrExit(config, logger, parts);
  const rt = await createRuntime(config, logger);
  await kafkaAccessOrExit(rt, parts);
  // How long a start takes, and where (a restarted consumer's partitions may wait for it).
  logger.info({ sinceStartMs: Math.round(performance.now()) }, "clients ready");
  close = async () => {
    await rt.close();
    await stopTracing();
  };
  if (stopping) return;

  // /readyz: what this process's parts need, and a consumer that is still consuming.
  let scorer: Scorer | undefined;
  const needs = dependenciesOf(config, parts);
  const readiness = async () => ({
    ...(await rt.readiness(needs)),
    ...(parts.consumer ? { consumer: scorer?.healthy ?? false } : {}),
  });

  const stopSampling = sampleReadiness(readiness, rt.metrics);
  stops.push({ name: "readiness sampler", stop: async () => stopSampling() });

  if (parts.ingest) {
    // Each part's modules are loaded only by a process that runs it (a consumer or a delivery
    // process does not carry the HTTP API's, nor the ingress the scorer's).
    const { startIngest } = await import("../ingest/main.ts");
    let ingest: RunningIngest;
    try {
      ingest = await startIngest(rt, { readiness });
    } catch (error) {
      if (error instanceof SentinelError && error.code === "config_invalid") {
        process.stderr.write(`sentinel: ${error.message}\n`);
        await rt.close().catch(() => {});
        process.exit(2);
      }
      throw error;
    }
    stops.push({ name: "ingest", stop: ingest.stop });
    logger.info({ address: ingest.address }, "ingest listening");
  } else {
    const ops = await serveOpsOnly(config, logger, readiness, rt.metrics);
    if (ops) stops.push({ name: "metrics endpoint", stop: ops.stop });
  }
  if (parts.consumer && !stopping) {
    scorer = await startConsumerPart(rt, fatal("consumer"), stops);
  }
  if (parts.webhooks && !stopping) {
    const { startWebhooks } = await import("../webhooks/main.ts");
    const webhooks = await startWebhooks(rt, { onFatal: fatal("webhook intake") });
    stops.push({ name: "webhooks", stop: () => webhooks.stop() });
    logger.info("webhook delivery running");
  }
}

/** /metrics, /healthz and /readyz on METRICS_PORT for a process without the ingress (0: none). */
async function serveOpsOnly(
  config: Config,
  logger: Logger,
  readiness: Readiness,
  metrics: Metrics,
): Promise<{ stop(): Promise<void> } | undefined> {
  if (config.http.metricsPort === 0) return undefined;
  try {
    return await startOpsServer({
      host: config.http.host,
      port: config.http.metricsPort,
      logger,
      readiness,
      metrics,
    });
  } catch (error) {
    logger.warn(
      { err: (error as Error).message, port: config.http.metricsPort },
      "metrics endpoint not started",
    );
    return undefined;
  }
}

import { DEVELOPMENT_SECRET_KEY } from "../config.ts";
import type { Runtime } from "../runtime.ts";
import { createDeliveryStore } from "./delivery-store.ts";
import { createDispatcher } from "./dispatcher.ts";
import { createEndpointStore } from "./endpoint-store.ts";
import { startIntake } from "./intake.ts";
import { createSecretBox } from "./secret-box.ts";
import { createSender } from "./sender.ts";

/** The stores of the webhooks, for the delivery process, the HTTP API and the CLI alike. */
export function webhookStores(rt: Pick<Runtime, "pool" | "config" | "logger">) {
  const { webhooks } = rt.config;
  if (webhooks.secretKey === DEVELOPMENT_SECRET_KEY) {
    rt.logger.warn("WEBHOOK_SECRET_KEY is not set: webhook secrets are sealed with a development key");
  }
  const box = createSecretBox(webhooks.secretKey);
  return {
    endpoints: createEndpointStore({ pool: rt.pool, box }),
    deliveries: createDeliveryStore({ pool: rt.pool }),
  };
}

export type RunningWebhooks = { stop(): Promise<void> };

/**
 * `sentinel webhooks` (and a part of `sentinel all`): the intake's consumer group, the dispatcher,
 * and the backlog sampler behind the webhook gauges.
 * @throws kafkajs errors when Kafka is unreachable at start.
 */
export async function startWebhooks(
  rt: Runtime,
  { onFatal }: { onFatal: (error: Error) => void },
): Promise<RunningWebhooks> {
  const { config, metrics } = rt;
  const logger = rt.logger.child({ component: "webhooks" });
  const { endpoints, deliveries } = webhookStores(rt);
  const sender = createSender({
    timeoutMs: config.webhooks.timeoutMs,
    allowPrivate: config.webhooks.allowPrivate,
  });
  const dispatcher = createDispatcher({
    deliveries,
    endpoints,
    sender,
    scheduleMs: config.webhooks.retryScheduleMs,
    endpointConcurrency: config.webhooks.endpointConcurrency,
    disableAfterMs: config.webhooks.disableAfterMs,
    timeoutMs: config.webhooks.timeoutMs,
    metrics: metrics.webhooks,
    logger,
  });
  const intake = await startIntake({
    kafka: rt.kafka,
    groupId: `${config.consumer.group}-webhooks`,
    topics: config.kafka.topics,
    deliveries,
    onStored: () => dispatcher.kick(),
    metrics: metrics.webhooks,
    logger,
    sessionTimeoutMs: config.consumer.sessionTimeoutMs,
    onFatal,
    deadLetters: {
      producer: rt.producer.producer,
      topic: config.kafka.topics.dlq,
      maxBytes: config.producer.maxBatchBytes,
    },
  });
  const sample = async () => {
    try {
      const b = await deliveries.backlog();
      metrics.webhooks.backlog.set(b.pending);
      metrics.webhooks.oldestPending.set(b.oldestSeconds);
    } catch {
      // PostgreSQL away: the gauges keep their last value; the readiness gauge says why
    }
  };
  void sample();
  const sampler = setInterval(() => void sample(), 5_000);
  sampler.unref();
  return {
    async stop() {
      clearInterval(sampler);
      await intake.stop();
      await dispatcher.stop();
      await sender.close();
    },
  };
}

import type { FastifyInstance } from "fastify";
import { createBatchingProducer } from "../kafka/batching-producer.ts";
import { encodeTransaction } from "../kafka/transaction-codec.ts";
import type { Runtime } from "../runtime.ts";
import { buildIngest } from "./app.ts";

export type RunningIngest = { app: FastifyInstance; address: string; stop(): Promise<void> };

/**
 * Wires the ingress onto a runtime and listens. stop() stops accepting, lets in-flight requests
 * finish, and flushes what they produced.
 */
export async function startIngest(
  rt: Runtime,
  { listen = true }: { listen?: boolean } = {},
): Promise<RunningIngest> {
  const { config } = rt;
  // With a registry, every value is written framed with the registered transaction.v1 id.
  // Fails start-up with a clear message when the registry cannot be reached: without the id the
  // ingress cannot write what it promised.
  const schemaId = await (await rt.schemaIds())?.register();
  const batching = createBatchingProducer({
    producer: rt.producer.producer,
    topic: config.kafka.topics.transactions,
    lingerMs: config.producer.lingerMs,
    maxMessages: config.producer.maxBatchMessages,
    maxBytes: config.producer.maxBatchBytes,
    timeoutMs: config.producer.timeoutMs,
    metrics: rt.metrics.producer,
  });
  const app = await buildIngest({
    config,
    logger: rt.logger,
    metrics: rt.metrics,
    readiness: () => rt.readiness(),
    publishTransaction: (tx) => batching.send({ key: tx.user_id, value: encodeTransaction(tx, schemaId) }),
    transactions: rt.transactions,
    profiles: rt.profiles,
    refreshCachedProfile: (p) => rt.profileCache.refresh(p),
    onClose: () => batching.flush(),
  });
  const address = listen ? await app.listen({ host: config.http.host, port: config.http.port }) : "";
  return { app, address, stop: () => app.close() };
}

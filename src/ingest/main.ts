import type { FastifyInstance } from "fastify";
import { SentinelError } from "../errors.ts";
import { createBatchingProducer } from "../kafka/batching-producer.ts";
import { createDecisionListener, type DecisionListener } from "../kafka/decision-listener.ts";
import { encodeTransaction } from "../kafka/transaction-codec.ts";
import { dependenciesOf, type Runtime } from "../runtime.ts";
import { createCaseStore } from "../store/case-store.ts";
import { createRulesStore } from "../store/rules-store.ts";
import { buildIngest } from "./app.ts";
import { createCaseFeed } from "./case-feed.ts";
import { createDecisionWaiters } from "./decision-waiters.ts";
import type { Readiness } from "./routes/ops.ts";

export type RunningIngest = {
  app: FastifyInstance;
  address: string;
  /** Whether the decision listener has joined (sync answers possible); false when sync is off. */
  syncReady(): boolean;
  stop(): Promise<void>;
};

/**
 * Wires the ingress onto a runtime and listens. stop() stops accepting, lets in-flight requests
 * finish, and flushes what they produced.
 */
export async function startIngest(
  rt: Runtime,
  { listen = true, readiness }: { listen?: boolean; readiness?: Readiness } = {},
): Promise<RunningIngest> {
  const { config } = rt;
  if (config.http.apiKeys.length === 0 && !config.http.authDisabled) {
    throw new SentinelError(
      "config_invalid",
      "invalid configuration:\n  API_KEYS: required by the ingress; set AUTH_DISABLED=true to run without keys (development only)",
    );
  }
  if (config.http.apiKeys.length === 0) {
    rt.logger.warn(
      "authentication is OFF (AUTH_DISABLED=true): every route is open to anyone who can reach it",
    );
  }
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
  // A listener on the decisions topic feeds this process's sync waits and the console's live queue.
  const feed = createCaseFeed();
  let sync: { waiters: ReturnType<typeof createDecisionWaiters>; maxWaitMs: number } | undefined;
  if (config.http.syncWaitMaxMs > 0) {
    sync = {
      waiters: createDecisionWaiters({ maxPending: config.http.syncMaxPending }),
      maxWaitMs: config.http.syncWaitMaxMs,
    };
  }
  const listener: DecisionListener = createDecisionListener({
    kafka: rt.kafka,
    topics: config.kafka.topics,
    groupPrefix: `${config.consumer.group}-ingest-waits`,
    logger: rt.logger.child({ component: "decision-listener" }),
    onDecision: (d) => {
      sync?.waiters.deliver(d);
      feed.decision(d);
    },
    onConflict: (id, fingerprint) => sync?.waiters.conflict(id, fingerprint),
    wanted: () => (sync?.waiters.pending ?? 0) > 0 || feed.subscribers > 0,
  });
  listener.start();
  const app = await buildIngest({
    config,
    logger: rt.logger,
    metrics: rt.metrics,
    readiness: readiness ?? (() => rt.readiness(dependenciesOf(config, { ingest: true, consumer: false }))),
    publishTransaction: (tx) => batching.send({ key: tx.user_id, value: encodeTransaction(tx, schemaId) }),
    transactions: rt.transactions,
    timestampMaxAgeMs: config.kafka.timestampMaxAgeMs,
    profiles: rt.profiles,
    refreshCachedProfile: (p) => rt.profileCache.refresh(p),
    sync,
    rules: { rulesStore: createRulesStore({ pool: rt.pool }) },
    analyst: {
      feed,
      cases: createCaseStore({ pool: rt.pool }),
      profiles: rt.profiles,
      publishLabel: async (label) => {
        try {
          await rt.producer.producer.send({
            topic: config.kafka.topics.labels,
            acks: -1,
            timeout: config.producer.timeoutMs,
            messages: [{ key: label.user_id, value: JSON.stringify(label) }],
          });
        } catch (error) {
          throw new SentinelError(
            "unavailable",
            "label stored, but not yet published on the labels topic: retry",
            {
              cause: error,
            },
          );
        }
      },
    },
    onClose: async () => {
      await batching.flush();
      await listener.stop();
    },
  });
  const address = listen ? await app.listen({ host: config.http.host, port: config.http.port }) : "";
  return { app, address, syncReady: () => listener.ready, stop: () => app.close() };
}

import type { FastifyInstance } from "fastify";
import { buildApp } from "../app/build-app.ts";
import { type AuditQuery, listAudit } from "../audit/audit-store.ts";
import { createCaseActions } from "../cases/case-actions.ts";
import { createCaseFeed } from "../cases/case-feed.ts";
import { createCaseStore } from "../cases/case-store.ts";
import { createCaseSupervision } from "../cases/case-supervision.ts";
import { createLabelOutbox } from "../cases/label-outbox.ts";
import { rulePerformanceReport } from "../cases/rule-performance.ts";
import { SentinelError } from "../errors.ts";
import { changeStoreFor } from "../governance/changes.ts";
import type { Readiness } from "../http/ops-plugin.ts";
import { startOpsServer } from "../http/ops-server.ts";
import { isLoopback } from "../http/request-guards.ts";
import { createBatchingProducer } from "../kafka/batching-producer.ts";
import { encodeTransaction } from "../kafka/transaction-codec.ts";
import { createRulesStore } from "../rules/rules-store.ts";
import { dependenciesOf, type Runtime } from "../runtime.ts";
import { createDecisionListener } from "../sync/decision-listener.ts";
import { createDecisionWaiters } from "../sync/decision-waiters.ts";
import { endSpan, SpanKind, startSpan, traceHeaders } from "../tracing.ts";
import { createEventOutbox } from "../webhooks/event-outbox.ts";
import { webhookStores } from "../webhooks/main.ts";

export type RunningIngest = {
  app: FastifyInstance;
  address: string;
  /** Whether the decision listener has joined (sync answers possible); false when sync is off. */
  syncReady(): boolean;
  stop(): Promise<void>;
};

/**
 * Refuses to start without keys unless AUTH_DISABLED=true, and then only on a loopback address.
 * @throws SentinelError(config_invalid).
 */
function checkAuthConfig(rt: Runtime): void {
  const { http } = rt.config;
  if (http.apiKeys.length === 0 && !http.authDisabled) {
    throw new SentinelError(
      "config_invalid",
      "invalid configuration:\n  API_KEYS: required by the ingress; set AUTH_DISABLED=true to run without keys (development only)",
    );
  }
  if (http.apiKeys.length === 0 && !isLoopback(http.host)) {
    throw new SentinelError(
      "config_invalid",
      `invalid configuration:\n  HOST: AUTH_DISABLED=true listens on loopback only (127.0.0.1, ::1, localhost), not ${http.host}; set API_KEYS to listen elsewhere`,
    );
  }
  if (http.apiKeys.length === 0) {
    rt.logger.warn("authentication is OFF (AUTH_DISABLED=true): every route is open to this machine");
  }
}

/**
 * The outboxes the API's changes write to, published from here: labels on the labels topic; case
 * resolutions and rule activations on the events topic, for the webhooks.
 */
function startOutboxes(rt: Runtime) {
  const { config } = rt;
  const common = {
    pool: rt.pool,
    producer: rt.producer.producer,
    maxRequestBytes: config.producer.maxBatchBytes,
  };
  const labels = createLabelOutbox({
    ...common,
    topic: config.kafka.topics.labels,
    logger: rt.logger.child({ component: "label-outbox" }),
  });
  const events = createEventOutbox({
    ...common,
    topic: config.kafka.topics.events,
    logger: rt.logger.child({ component: "event-outbox" }),
  });
  labels.start();
  events.start();
  return { labels, events };
}

/** /metrics and /docs on the internal port, when one is configured (issue 35). */
async function startInternalPort(rt: Runtime, app: FastifyInstance, readiness: Readiness | undefined) {
  const { config } = rt;
  if (config.http.internalPort === 0) return undefined;
  return startOpsServer({
    host: config.http.internalHost,
    port: config.http.internalPort,
    logger: rt.logger,
    readiness: readiness ?? (() => rt.readiness(dependenciesOf(config, { ingest: true, consumer: false }))),
    metrics: rt.metrics,
    docs: () => app.swagger(),
  });
}

/**
 * Wires the ingress onto a runtime and listens. stop() stops accepting, lets in-flight requests
 * finish, and flushes what they produced.
 */
/** The admin's features: rule sets, lists and snoozes, proposed changes, the audit trail, webhooks. */
function adminDeps(rt: Runtime) {
  const changes = changeStoreFor(rt.config, rt.pool);
  return {
    rules: { rulesStore: createRulesStore({ pool: rt.pool }), changes },
    changes: { changes },
    audit: { listAudit: (q: AuditQuery) => listAudit(rt.pool, q) },
    webhooks: {
      ...webhookStores(rt),
      changes,
      allowPrivate: rt.config.webhooks.allowPrivate,
      secretOverlapMs: rt.config.webhooks.secretOverlapMs,
    },
  };
}

export async function startIngest(
  rt: Runtime,
  { listen = true, readiness }: { listen?: boolean; readiness?: Readiness } = {},
): Promise<RunningIngest> {
  const { config } = rt;
  checkAuthConfig(rt);
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
  const feed = createCaseFeed({
    maxSubscribers: config.http.casesStreamMax,
    maxPerKey: config.http.casesStreamMaxPerKey,
  });
  const sync =
    config.http.syncWaitMaxMs > 0
      ? {
          waiters: createDecisionWaiters({ maxPending: config.http.syncMaxPending }),
          maxWaitMs: config.http.syncWaitMaxMs,
        }
      : undefined;
  const listener = createDecisionListener({
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
  const cases = createCaseStore({ pool: rt.pool });
  const actions = createCaseActions({ pool: rt.pool });
  const { labels, events } = startOutboxes(rt);
  const refreshCachedProfile = (p: Parameters<typeof rt.profileCache.refresh>[0]) =>
    rt.profileCache.refresh(p);
  const app = await buildApp({
    config,
    logger: rt.logger,
    metrics: rt.metrics,
    rateLimitStore: { redis: rt.redis, keyPrefix: config.redis.keyPrefix },
    readiness: readiness ?? (() => rt.readiness(dependenciesOf(config, { ingest: true, consumer: false }))),
    transactions: {
      publishTransaction: (tx, trace) => {
        const message = { key: tx.user_id, value: encodeTransaction(tx, schemaId) };
        if (!trace) return batching.send(message); // tracing off: nothing more per request
        const produce = startSpan("produce transactions", { kind: SpanKind.PRODUCER }, trace.ctx);
        return batching.send({ ...message, headers: traceHeaders(produce) }).finally(() => endSpan(produce));
      },
      transactions: rt.transactions,
      timestampMaxAgeMs: config.kafka.timestampMaxAgeMs,
      sync,
    },
    profiles: { profiles: rt.profiles, refreshCachedProfile },
    ...adminDeps(rt),
    analyst: {
      cases: {
        cases,
        actions,
        supervision: createCaseSupervision({ pool: rt.pool }),
        transactions: rt.transactions,
        refreshCachedProfile,
        labels,
        feed,
      },
      labels: {
        actions,
        labels,
        rulePerformance: (since, until) => rulePerformanceReport(rt.pool, since, until),
      },
    },
    onClose: async () => {
      await batching.flush();
      await labels.stop();
      await events.stop();
      await listener.stop();
    },
  });
  const address = listen ? await app.listen({ host: config.http.host, port: config.http.port }) : "";
  const internal = listen ? await startInternalPort(rt, app, readiness) : undefined;
  return {
    app,
    address,
    syncReady: () => listener.ready,
    stop: async () => {
      await internal?.stop();
      await app.close();
    },
  };
}

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

const MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000].map((b) => b / 1000);
type Registers = Registry[];

/** The ingress: requests, accepted and refused transactions, sync waits. */
const httpMetrics = (r: Registers) => ({
  duration: new Histogram({
    name: "sentinel_http_request_duration_seconds",
    help: "HTTP request latency by route and status",
    labelNames: ["method", "route", "status"],
    buckets: MS,
    registers: r,
  }),
  inFlight: new Gauge({
    name: "sentinel_http_in_flight_requests",
    help: "Requests being served",
    registers: r,
  }),
  accepted: new Counter({
    name: "sentinel_ingest_accepted_total",
    help: "Transactions acknowledged by Kafka and answered 202",
    registers: r,
  }),
  rejected: new Counter({
    name: "sentinel_ingest_rejected_total",
    help: "Transactions refused, by reason",
    labelNames: ["reason"],
    registers: r,
  }),
  syncWaits: new Counter({
    name: "sentinel_sync_wait_total",
    help: "Prefer: wait requests by outcome (decided, timed_out, shed, cancelled, conflict)",
    labelNames: ["route", "outcome"],
    registers: r,
  }),
  syncStage: new Histogram({
    name: "sentinel_sync_stage_seconds",
    help: "A decided Prefer: wait request by stage: ack (request to Kafka's ack), decide (ack to decided_at), deliver (decided_at to the answer)",
    labelNames: ["stage"],
    buckets: MS,
    registers: r,
  }),
  acceptToDecision: new Histogram({
    name: "sentinel_accept_to_decision_seconds",
    help: "Time from Kafka's acknowledgement of a transaction to its decision reaching the ingress",
    buckets: MS,
    registers: r,
  }),
});

/** Produce requests to Kafka (the ingress's batching producer). */
const producerMetrics = (r: Registers) => ({
  batchSize: new Histogram({
    name: "sentinel_produce_batch_messages",
    help: "Messages per produce request to Kafka",
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
    registers: r,
  }),
  batchDuration: new Histogram({
    name: "sentinel_produce_batch_duration_seconds",
    help: "Time from sending a batch to Kafka's acknowledgement (acks=all)",
    labelNames: ["outcome"],
    buckets: MS,
    registers: r,
  }),
});

/** The scorer: chunks, decisions, dead letters, retries and lag. */
const consumerMetrics = (r: Registers) => ({
  entityFailures: new Counter({
    name: "sentinel_entity_memory_failures_total",
    help: "Rounds whose entity features read 0 because Redis did not answer (issue 36 §2)",
    registers: r,
  }),
  invalidArtefacts: new Counter({
    name: "sentinel_invalid_artefacts_total",
    help: "Stored rule sets or models a consumer refused to load (logged; the previous one stays)",
    labelNames: ["kind"],
    registers: r,
  }),
  batchSize: new Histogram({
    name: "sentinel_consumer_batch_messages",
    help: "Messages per processed chunk",
    buckets: [1, 10, 50, 100, 250, 500, 1000, 2000, 5000],
    registers: r,
  }),
  batchDuration: new Histogram({
    name: "sentinel_consumer_batch_duration_seconds",
    help: "Time to decode, score, persist and publish one chunk",
    buckets: MS,
    registers: r,
  }),
  stage: new Histogram({
    name: "sentinel_scorer_stage_seconds",
    help: "A scored round by stage: queued (the oldest message's broker time to the round's start), decode, load_context, decide, persist, publish",
    labelNames: ["stage"],
    buckets: MS,
    registers: r,
  }),
  decisions: new Counter({
    name: "sentinel_decisions_total",
    help: "Decisions published, by outcome (republished stored decisions included)",
    labelNames: ["decision", "replayed"],
    registers: r,
  }),
  deadLetters: new Counter({
    name: "sentinel_dead_letters_total",
    help: "Messages sent to the dead-letter topic, by reason",
    labelNames: ["reason"],
    registers: r,
  }),
  retries: new Counter({
    name: "sentinel_consumer_retries_total",
    help: "Chunks retried after a transient fault, by error code",
    labelNames: ["code"],
    registers: r,
  }),
  inFlight: new Gauge({
    name: "sentinel_consumer_in_flight_bytes",
    help: "Message payload fetched and not yet durable (bounded by CONSUMER_MAX_IN_FLIGHT_MIB)",
    registers: r,
  }),
  dropped: new Counter({
    name: "sentinel_consumer_dropped_batches_total",
    help: "Fetched batches dropped unworked, to be fetched again (a batch left undone, a rejoin)",
    labelNames: ["reason"],
    registers: r,
  }),
  lag: new Gauge({
    name: "sentinel_consumer_lag_messages",
    help: "High watermark minus the next offset to process, per partition",
    labelNames: ["topic", "partition"],
    registers: r,
  }),
});

/** The profile cache. */
const cacheMetrics = (r: Registers) => ({
  hits: new Counter({
    name: "sentinel_profile_cache_hits_total",
    help: "Profiles found in Redis",
    registers: r,
  }),
  misses: new Counter({
    name: "sentinel_profile_cache_misses_total",
    help: "Profiles loaded from PostgreSQL after a Redis miss",
    registers: r,
  }),
  fallbacks: new Counter({
    name: "sentinel_profile_cache_fallbacks_total",
    help: "Profiles loaded from PostgreSQL because Redis was unavailable",
    registers: r,
  }),
});

/** Webhooks: events taken in, attempts and their outcome per endpoint, what waits. */
const webhookMetrics = (r: Registers) => ({
  invalidEvents: new Counter({
    name: "sentinel_webhook_invalid_events_total",
    help: "Messages on the webhook source topics that were no event of ours: dead-lettered, never sent",
    registers: r,
  }),
  events: new Counter({
    name: "sentinel_webhook_events_total",
    help: "Events read by the webhook intake, by type, and the deliveries they made (one per subscribed endpoint)",
    labelNames: ["type"],
    registers: r,
  }),
  deliveries: new Counter({
    name: "sentinel_webhook_deliveries_total",
    help: "Delivery attempts by outcome (delivered, retry, failed: given up, gone: 410) and endpoint",
    labelNames: ["outcome", "endpoint"],
    registers: r,
  }),
  attemptDuration: new Histogram({
    name: "sentinel_webhook_attempt_duration_seconds",
    help: "One delivery attempt, request to the receiver's status line (or failure), by endpoint",
    labelNames: ["endpoint"],
    buckets: [...MS, 10, 15],
    registers: r,
  }),
  eventToDelivery: new Histogram({
    name: "sentinel_webhook_event_to_delivery_seconds",
    help: "From an event (a decision's decided_at) to the receiver's 2xx",
    buckets: [...MS, 10, 30, 60, 300, 3600],
    registers: r,
  }),
  backlog: new Gauge({
    name: "sentinel_webhook_backlog",
    help: "Deliveries not yet delivered to enabled endpoints (sampled)",
    registers: r,
  }),
  oldestPending: new Gauge({
    name: "sentinel_webhook_oldest_pending_seconds",
    help: "Age of the oldest undelivered delivery to an enabled endpoint (sampled)",
    registers: r,
  }),
});

/** What alerts read: each readiness check as 1 (ready) or 0, sampled in the background. */
const opsMetrics = (r: Registers) => ({
  ready: new Gauge({
    name: "sentinel_ready",
    help: "Readiness checks of this process (kafka, postgres, redis, registry, consumer): 1 ready, 0 not",
    labelNames: ["check"],
    registers: r,
  }),
});

/** The learned model's drift (issue 36): PSI of its score and features, live against training. */
const modelMetrics = (r: Registers) => ({
  psi: new Gauge({
    name: "sentinel_model_psi",
    help: "Population stability index of the model's score (feature=score) and of each feature, live against its training rows (> 0.25: drifted)",
    labelNames: ["version", "feature"],
    registers: r,
  }),
});

/*
 * Every metric of a process, created once in the composition root and passed to the parts that
 * record it. No global registry: two apps in one test process do not collide.
 */
export function createMetrics({ defaults = true }: { defaults?: boolean } = {}) {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry, prefix: "sentinel_" });
  const r = [registry];
  return {
    registry,
    http: httpMetrics(r),
    producer: producerMetrics(r),
    consumer: consumerMetrics(r),
    cache: cacheMetrics(r),
    ops: opsMetrics(r),
    webhooks: webhookMetrics(r),
    model: modelMetrics(r),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

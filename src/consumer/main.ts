import { createEntityMemory } from "../cache/entity-memory.ts";
import { withAdmin } from "../kafka/admin.ts";
import { createDecodeOptions } from "../kafka/transaction-codec.ts";
import { startDriftReporter } from "../model/drift-reporter.ts";
import { createModelStore } from "../model/model-store.ts";
import { createRulesSource } from "../rules/active-rules.ts";
import { defaultRuleSet } from "../rules/default-rule-set.ts";
import { createRulesStore } from "../rules/rules-store.ts";
import { KnownStateUsers } from "../rules/user-state-request.ts";
import type { Runtime } from "../runtime.ts";
import type { ScoringDeps } from "../scoring/score-round.ts";
import { createScorer, type Scorer } from "./scorer.ts";

/**
 * Fails with a message an operator can act on, rather than kafkajs's metadata error. Only the
 * scorer's own topics: with ACLs, a principal sees no topic it has no right on (issue 34).
 */
async function requireTopics(rt: Runtime): Promise<void> {
  const existing = new Set(await withAdmin(rt.kafka, (admin) => admin.listTopics()));
  const { transactions, decisions, dlq } = rt.config.kafka.topics;
  const missing = [transactions, decisions, dlq].filter((t) => !existing.has(t));
  if (missing.length > 0) {
    throw new Error(
      `Kafka topic(s) ${missing.join(", ")} do not exist: run \`npm run sentinel -- init\` (or \`npm run stack:up\`)`,
    );
  }
}

/**
 * What scoring needs, from the runtime: the live consumer and `sentinel replay` score alike.
 * Registering the transaction schema up front makes the ids of `mock://` registries agree between
 * processes and warms the cache; a registry that is down only delays framed values (retried), so
 * this never fails on it. stop() ends the rules' refresh and the drift reports (for a process
 * that outlives its scorer: the benchmarks, a replay inside a longer run).
 */
export async function scoringDeps(rt: Runtime): Promise<ScoringDeps & { stop(): void }> {
  const { config } = rt;
  const schemaIds = await rt.schemaIds();
  await schemaIds?.register().catch((error: unknown) => {
    rt.logger.warn(
      { err: (error as Error).message },
      "schema registry unreachable; framed values will wait for it",
    );
  });
  const drift = startDriftReporter({
    pool: rt.pool,
    metrics: rt.metrics,
    logger: rt.logger.child({ component: "drift" }),
    intervalMs: config.consumer.driftIntervalMs,
  });
  const rules = createRulesSource({
    store: createRulesStore({ pool: rt.pool }),
    models: createModelStore({ pool: rt.pool }),
    fallback: defaultRuleSet(config.rules),
    fxRates: config.rules.fxRates,
    logger: rt.logger.child({ component: "rules" }),
    onInvalid: (kind) => rt.metrics.consumer.invalidArtefacts.inc({ kind }),
    drift,
  });
  await rules.start();
  return {
    store: rt.transactions,
    profiles: rt.profileCache,
    entities: createEntityMemory({
      redis: rt.redis,
      keyPrefix: config.redis.keyPrefix,
      retentionMs: config.consumer.entityRetentionMs,
      failures: rt.metrics.consumer.entityFailures,
      logger: rt.logger.child({ component: "entities" }),
    }),
    knownState: new KnownStateUsers(),
    // The active rule set, switched within seconds of an activation (src/rules/active-rules.ts).
    get rules() {
      return rules.current;
    },
    get shadow() {
      return rules.shadow;
    },
    decode: createDecodeOptions({
      maxBytes: config.kafka.messageMaxBytes,
      maxAgeMs: config.kafka.timestampMaxAgeMs,
    }),
    schemaIds,
    observeStage: (stage, seconds) => rt.metrics.consumer.stage.observe({ stage }, seconds),
    stop() {
      rules.stop();
      drift.stop();
    },
  };
}

/**
 * Wires the scoring consumer onto a runtime and joins the group. The producer must be connected
 * before the first chunk publishes; start() waits for it.
 * @throws when Kafka is unreachable for `connectTimeoutMs`.
 */
export async function startConsumer(
  rt: Runtime,
  {
    connectTimeoutMs = 60_000,
    onFatal,
  }: { connectTimeoutMs?: number; onFatal?: (error: Error) => void } = {},
): Promise<Scorer> {
  const { config } = rt;
  // Independent: each connects on its own (a restart's time to rejoin is their longest, not their sum).
  const [, , scoring] = await Promise.all([
    rt.producer.ready(connectTimeoutMs),
    requireTopics(rt),
    scoringDeps(rt),
  ]);
  const scorer = createScorer({
    kafka: rt.kafka,
    producer: rt.producer.producer,
    topics: config.kafka.topics,
    groupId: config.consumer.group,
    partitionsConcurrency: config.consumer.partitionsConcurrency,
    chunkSize: config.consumer.chunkSize,
    sessionTimeoutMs: config.consumer.sessionTimeoutMs,
    instanceId: config.consumer.instanceId,
    maxInFlightBytes: config.consumer.maxInFlightBytes,
    roundsInFlight: config.consumer.roundsInFlight,
    overlapMinMessages: config.consumer.overlapMinMessages,
    roundMaxMessages: config.consumer.roundMaxMessages,
    fetch: config.consumer.fetch,
    commitIntervalMs: config.consumer.commitIntervalMs,
    maxRequestBytes: config.producer.maxBatchBytes,
    scoring,
    onFatal,
    logger: rt.logger.child({ component: "scorer" }),
    metrics: rt.metrics,
  });
  await scorer.start();
  const stopScorer = scorer.stop.bind(scorer);
  scorer.stop = async () => {
    await stopScorer();
    scoring.stop();
  };
  rt.logger.info(
    {
      group: config.consumer.group,
      instance: config.consumer.instanceId,
      sinceStartMs: Math.round(performance.now()),
      rules_version: scoring.rules.version,
    },
    "scorer running",
  );
  return scorer;
}

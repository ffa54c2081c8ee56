import kafkajs, { type Admin } from "kafkajs";
import type { Config } from "../config.ts";
import { pollUntil } from "../poll.ts";

/**
 * How the topics are replicated: as configured, else by the cluster's size — three replicas with
 * `min.insync.replicas=2` on three brokers or more (with acks=all a write then survives one broker's
 * loss, and a second loss refuses writes instead of keeping a single copy), one on a single broker.
 */
export function replicationFor(
  brokers: number,
  kafka: Pick<Config["kafka"], "replicationFactor" | "minInsyncReplicas">,
): { replicationFactor: number; minInsyncReplicas: number } {
  const replicationFactor = kafka.replicationFactor ?? Math.max(1, Math.min(3, brokers));
  const minInsyncReplicas = kafka.minInsyncReplicas ?? (replicationFactor >= 3 ? 2 : 1);
  return { replicationFactor, minInsyncReplicas };
}

/**
 * Creates the pipeline's topics when missing (never alters existing ones), then waits until every
 * partition has a leader. Idempotent.
 * @throws kafkajs errors when the cluster is unreachable, or Error when leaders do not appear in time.
 */
export async function ensureTopics(
  admin: Admin,
  kafka: Pick<
    Config["kafka"],
    | "topics"
    | "transactionsPartitions"
    | "transactionsTimestampType"
    | "replicationFactor"
    | "minInsyncReplicas"
    | "retentionMs"
  >,
  { timeoutMs = 30_000 }: { timeoutMs?: number } = {},
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const all = [
    {
      kind: "transactions" as const,
      topic: kafka.topics.transactions,
      numPartitions: kafka.transactionsPartitions,
      // The broker stamps each transaction as it appends it: the history rules' clock, which no
      // client chooses (README, The rules).
      extra: [{ name: "message.timestamp.type", value: kafka.transactionsTimestampType }],
    },
    {
      kind: "decisions" as const,
      topic: kafka.topics.decisions,
      numPartitions: kafka.transactionsPartitions,
      extra: [],
    },
    { kind: "dlq" as const, topic: kafka.topics.dlq, numPartitions: 1, extra: [] },
    {
      kind: "labels" as const,
      topic: kafka.topics.labels,
      numPartitions: kafka.transactionsPartitions,
      extra: [],
    },
    // Case resolutions and rule activations, for the webhooks: few, so few partitions.
    {
      kind: "events" as const,
      topic: kafka.topics.events,
      numPartitions: Math.min(3, kafka.transactionsPartitions),
      extra: [],
    },
  ];
  const wanted = all.filter((t) => !existing.has(t.topic));
  if (wanted.length > 0) {
    const { replicationFactor, minInsyncReplicas } = replicationFor(
      (await admin.describeCluster()).brokers.length,
      kafka,
    );
    await admin.createTopics({
      waitForLeaders: false,
      topics: wanted.map(({ kind, topic, numPartitions, extra }) => ({
        topic,
        numPartitions,
        replicationFactor,
        configEntries: [
          { name: "min.insync.replicas", value: String(minInsyncReplicas) },
          { name: "retention.ms", value: String(kafka.retentionMs[kind]) },
          ...extra,
        ],
      })),
    });
  }
  await setRetention(
    admin,
    all
      .filter((t) => existing.has(t.topic))
      .map((t) => ({ topic: t.topic, retentionMs: kafka.retentionMs[t.kind] })),
  );
  // kafkajs's own waitForLeaders gives up on UNKNOWN_TOPIC_OR_PARTITION, which a fresh topic
  // briefly is while its metadata propagates; poll until every partition has a leader.
  await pollUntil(
    async () => {
      const meta = await admin.fetchTopicMetadata({ topics: all.map((t) => t.topic) });
      return meta.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
    },
    {
      timeoutMs,
      onTimeout: (lastError) => {
        throw lastError ?? new Error(`topics ${all.map((t) => t.topic).join(", ")} have no leaders`);
      },
    },
  );
  return wanted.map((t) => t.topic);
}

const { ConfigResourceTypes } = kafkajs;
/** kafkajs's ConfigSource.TOPIC_CONFIG: a value set on the topic itself. */
const TOPIC_CONFIG = 1;

/** One topic's configuration value, and whether it was set on the topic itself (not a default). */
export type TopicConfigValue = { value: string; own: boolean };

/** Each topic's configuration, by name (one DescribeConfigs request for them all). */
export async function topicConfigs(
  admin: Admin,
  topics: readonly string[],
): Promise<Map<string, Map<string, TopicConfigValue>>> {
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
  });
  return new Map(
    described.resources.map((r) => [
      r.resourceName,
      new Map(
        r.configEntries.map((c) => [
          c.configName,
          { value: c.configValue, own: (c.configSource as number) === TOPIC_CONFIG },
        ]),
      ),
    ]),
  );
}

/**
 * Sets retention.ms on existing topics whose value differs (issue 34: `init` sets every topic's
 * retention explicitly). AlterConfigs replaces a topic's whole set of overrides, so the others
 * (min.insync.replicas, message.timestamp.type) are read first and written back with it.
 */
export async function setRetention(
  admin: Admin,
  wanted: ReadonlyArray<{ topic: string; retentionMs: number }>,
): Promise<string[]> {
  if (wanted.length === 0) return [];
  const configs = await topicConfigs(
    admin,
    wanted.map((w) => w.topic),
  );
  const changes = wanted.flatMap(({ topic, retentionMs }) => {
    const entries = configs.get(topic) ?? new Map<string, TopicConfigValue>();
    if (entries.get("retention.ms")?.value === String(retentionMs)) return [];
    const overrides = [...entries]
      .filter(([name, c]) => c.own && name !== "retention.ms")
      .map(([name, c]) => ({ name, value: c.value }));
    return [
      {
        type: ConfigResourceTypes.TOPIC,
        name: topic,
        configEntries: [...overrides, { name: "retention.ms", value: String(retentionMs) }],
      },
    ];
  });
  if (changes.length > 0) await admin.alterConfigs({ validateOnly: false, resources: changes });
  return changes.map((c) => c.name);
}

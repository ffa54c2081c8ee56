import { setTimeout as sleep } from "node:timers/promises";
import type { Admin } from "kafkajs";
import type { Config } from "../config.ts";

/**
 * Creates the pipeline's topics when missing (never alters existing ones), then waits until every
 * partition has a leader. Idempotent.
 * @throws kafkajs errors when the cluster is unreachable, or Error when leaders do not appear in time.
 */
export async function ensureTopics(
  admin: Admin,
  kafka: Pick<Config["kafka"], "topics" | "transactionsPartitions">,
  { replicationFactor = 1, timeoutMs = 30_000 }: { replicationFactor?: number; timeoutMs?: number } = {},
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const all = [
    { topic: kafka.topics.transactions, numPartitions: kafka.transactionsPartitions },
    { topic: kafka.topics.decisions, numPartitions: kafka.transactionsPartitions },
    { topic: kafka.topics.dlq, numPartitions: 1 },
  ];
  const wanted = all.filter((t) => !existing.has(t.topic));
  if (wanted.length > 0) {
    await admin.createTopics({
      waitForLeaders: false,
      topics: wanted.map((t) => ({ ...t, replicationFactor })),
    });
  }
  // kafkajs's own waitForLeaders gives up on UNKNOWN_TOPIC_OR_PARTITION, which a fresh topic
  // briefly is while its metadata propagates; poll until every partition has a leader.
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics: all.map((t) => t.topic) });
      if (meta.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0)))
        break;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline)
      throw new Error(`topics ${all.map((t) => t.topic).join(", ")} have no leaders`);
    await sleep(100);
  }
  return wanted.map((t) => t.topic);
}

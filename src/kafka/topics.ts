import type { Admin } from "kafkajs";
import type { Config } from "../config.ts";

/**
 * Creates the pipeline's topics when missing (never alters existing ones). Idempotent.
 * @throws kafkajs errors when the cluster is unreachable.
 */
export async function ensureTopics(
  admin: Admin,
  kafka: Pick<Config["kafka"], "topics" | "transactionsPartitions">,
  replicationFactor = 1,
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const wanted = [
    { topic: kafka.topics.transactions, numPartitions: kafka.transactionsPartitions },
    { topic: kafka.topics.decisions, numPartitions: kafka.transactionsPartitions },
    { topic: kafka.topics.dlq, numPartitions: 1 },
  ].filter((t) => !existing.has(t.topic));
  if (wanted.length === 0) return [];
  await admin.createTopics({
    waitForLeaders: true,
    topics: wanted.map((t) => ({ ...t, replicationFactor })),
  });
  return wanted.map((t) => t.topic);
}

import { describe, expect, it } from "vitest";
import { forkTest, type KafkaJSErrors, kafkajs, silentLogger } from "./kafkajs-under-test.ts";

/*
 * Fork change 2 (tulios/kafkajs#1303): `send` split its messages by leader and, when the request
 * to one broker failed, retried only the brokers that had not answered. If the failed broker's
 * partitions had meanwhile moved to a broker that had answered (a node died; a live one leads its
 * partitions now), their messages went to nobody and `send` resolved as if they were written —
 * acknowledged, never written (4 to 89 messages per three-broker chaos run, issue 22). Here the
 * same thing on kafkajs's own sendMessages, with two brokers that are plain objects.
 */

type Message = { key: string; value: string; partition: number };
type ProduceRequest = {
  topicData: Array<{ topic: string; partitions: Array<{ partition: number; messages: Message[] }> }>;
};
const createSendMessages = kafkajs<
  (context: Record<string, unknown>) => (args: Record<string, unknown>) => Promise<unknown[]>
>("src/producer/sendMessages.js");
const createRetry = kafkajs<(options: Record<string, unknown>) => unknown>("src/retry/index.js");
const { KafkaJSConnectionError } = kafkajs<KafkaJSErrors>("src/errors.js");

/** Two brokers; partition 0 led by node 1 until node 1 fails, then by node 2. */
function twoBrokers({ failFirstProduceOf }: { failFirstProduceOf: number }) {
  const leaders: Record<number, number> = { 0: 1, 1: 2 };
  const written: Array<{ nodeId: number; partition: number; values: string[] }> = [];
  let failed = false;
  const broker = (nodeId: number) => ({
    nodeId,
    async produce({ topicData }: ProduceRequest) {
      if (nodeId === failFirstProduceOf && !failed) {
        failed = true;
        leaders[0] = 2; // the dead node's partition moves to the live broker, which has answered
        throw new KafkaJSConnectionError("Connection error: connect ECONNREFUSED 127.0.0.1:9094");
      }
      for (const { partitions } of topicData) {
        for (const { partition, messages } of partitions) {
          written.push({ nodeId, partition, values: messages.map((m) => m.value) });
        }
      }
      return {
        topics: topicData.map(({ topic, partitions }) => ({
          topicName: topic,
          partitions: partitions.map(({ partition }) => ({ partition, errorCode: 0, baseOffset: "0" })),
        })),
      };
    },
  });
  const brokers = new Map([1, 2].map((id) => [id, broker(id)]));
  const cluster = {
    targetTopics: new Set<string>(),
    async refreshMetadataIfNecessary() {},
    async refreshMetadata() {},
    async addMultipleTargetTopics() {},
    isConnected: () => true,
    async connect() {},
    removeBroker() {},
    findTopicPartitionMetadata: () => [0, 1].map((p) => ({ partitionId: p, leader: leaders[p] })),
    findLeaderForPartitions(_topic: string, partitions: string[]) {
      const byLeader: Record<string, number[]> = {};
      for (const p of partitions) {
        const leader = String(leaders[Number(p)]);
        byLeader[leader] = [...(byLeader[leader] ?? []), Number(p)];
      }
      return byLeader;
    },
    async findBroker({ nodeId }: { nodeId: string }) {
      return brokers.get(Number(nodeId));
    },
  };
  const eosManager = {
    async acquireBrokerLock() {},
    async releaseBrokerLock() {},
    isTransactional: () => false,
    getProducerId: () => -1,
    getProducerEpoch: () => 0,
    getSequence: () => 0,
    updateSequence() {},
  };
  const send = createSendMessages({
    logger: silentLogger,
    cluster,
    partitioner: ({ message }: { message: Message }) => message.partition,
    eosManager,
    retrier: createRetry({ retries: 3, initialRetryTime: 1, maxRetryTime: 5 }),
  });
  return { send, written };
}

const messages: Message[] = [
  { key: "a", value: "to-p0", partition: 0 },
  { key: "b", value: "to-p1", partition: 1 },
];

describe("kafkajs fork: sendMessages after a leader moved", () => {
  forkTest(
    "a partition whose leader failed is sent to its new leader, even one that already answered",
    async () => {
      const { send, written } = twoBrokers({ failFirstProduceOf: 1 });
      const responses = await send({ acks: -1, timeout: 1_000, topicMessages: [{ topic: "t", messages }] });
      // Pristine kafkajs resolves here too, with partition 0 written nowhere.
      expect(written.flatMap((w) => w.values).sort()).toEqual(["to-p0", "to-p1"]);
      expect(written).toContainEqual({ nodeId: 2, partition: 0, values: ["to-p0"] });
      expect(responses).toHaveLength(2);
    },
  );

  it("a send without failures writes each partition once", async () => {
    const { send, written } = twoBrokers({ failFirstProduceOf: 0 });
    await send({ acks: -1, timeout: 1_000, topicMessages: [{ topic: "t", messages }] });
    expect(written).toEqual(
      expect.arrayContaining([
        { nodeId: 1, partition: 0, values: ["to-p0"] },
        { nodeId: 2, partition: 1, values: ["to-p1"] },
      ]),
    );
    expect(written).toHaveLength(2);
  });
});

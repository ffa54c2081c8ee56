import { createRequire } from "node:module";
import { getOrSet } from "../maps.ts";

/*
 * kafkajs 2.2.4's producer can acknowledge messages it never wrote (tulios/kafkajs#1303, open):
 * `send` splits its messages by partition leader and, when a request to one broker fails, retries
 * only the brokers that have not answered yet. If the failed broker's partitions meanwhile moved to
 * a broker that already answered (a node died; its partitions now led by a live one), their
 * messages are sent to nobody and `send` resolves as if they were written. On a three-broker
 * cluster the chaos run saw 4 to 89 such acknowledged direct sends missing from the topic per run
 * (issue 22).
 *
 * This is kafkajs's sendMessages with that one thing changed: what has been written is tracked per
 * topic-partition, not per broker, so a retry sends every partition not yet acknowledged to
 * whichever broker leads it now; and each message's partition is chosen once, on the first attempt
 * that has metadata, so a retry cannot move a message to a partition already acknowledged (the
 * round-robin partitioner for messages without a key would). A partition the metadata does not
 * know is retried, never dropped. And every request of an attempt settles before the next attempt
 * starts. Everything else (locks, sequences, errors, retries) is kafkajs's.
 * Installed by kafkajs-patches.ts.
 */

const require = createRequire(import.meta.url);
const { KafkaJSMetadataNotLoaded } = require("kafkajs/src/errors.js") as {
  KafkaJSMetadataNotLoaded: new (message: string) => Error;
};
const { staleMetadata } = require("kafkajs/src/protocol/error.js") as { staleMetadata(e: unknown): boolean };
const groupMessagesPerPartition = require("kafkajs/src/producer/groupMessagesPerPartition.js") as (args: {
  topic: string;
  partitionMetadata: unknown[];
  messages: unknown[];
  partitioner: unknown;
}) => Record<string, unknown[]>;
const createTopicData = require("kafkajs/src/producer/createTopicData.js") as (
  data: Array<{ topic: string; partitions: number[]; messagesPerPartition: Record<string, unknown[]> }>,
) => Array<{
  topic: string;
  partitions: Array<{ partition: number; messages: unknown[]; firstSequence?: number }>;
}>;
const responseSerializer = require("kafkajs/src/producer/responseSerializer.js") as (
  response: unknown,
) => unknown[];

type Broker = { nodeId: number; produce(request: Record<string, unknown>): Promise<unknown> };
type KafkaError = Error & { retriable?: boolean; host?: string; port?: number };

/** The parts of kafkajs's internals sendMessages is given (see kafkajs/src/producer/messageProducer.js). */
export type SendMessagesContext = {
  logger: { debug(message: string, extra?: object): void; error(message: string, extra?: object): void };
  cluster: {
    refreshMetadataIfNecessary(): Promise<void>;
    refreshMetadata(): Promise<void>;
    addMultipleTargetTopics(topics: string[]): Promise<void>;
    findTopicPartitionMetadata(topic: string): unknown[];
    findLeaderForPartitions(topic: string, partitions: string[]): Record<string, number[]>;
    findBroker(args: { nodeId: string }): Promise<Broker>;
    isConnected(): boolean;
    connect(): Promise<void>;
    removeBroker(args: { host?: string; port?: number }): void;
  };
  partitioner: unknown;
  eosManager: {
    acquireBrokerLock(broker: Broker): Promise<void>;
    releaseBrokerLock(broker: Broker): Promise<void>;
    isTransactional(): boolean;
    addPartitionsToTransaction(topicData: unknown): Promise<void>;
    getTransactionalId(): string;
    getProducerId(): number;
    getProducerEpoch(): number;
    getSequence(topic: string, partition: number): number;
    updateSequence(topic: string, partition: number, increment: number): void;
  };
  retrier: <T>(
    fn: (bail: (e: Error) => void, retryCount: number, retryTime: number) => Promise<T>,
  ) => Promise<T>;
};

export type SendArgs = {
  acks: number;
  timeout: number;
  compression: unknown;
  topicMessages: Array<{ topic: string; messages: unknown[] }>;
};

type Pending = { topic: string; partitions: number[]; messagesPerPartition: Record<string, unknown[]> };

const tp = (topic: string, partition: number | string) => `${topic}\u0000${partition}`;

export function createSendMessages({
  logger,
  cluster,
  partitioner,
  eosManager,
  retrier,
}: SendMessagesContext) {
  return async ({ acks, timeout, compression, topicMessages }: SendArgs): Promise<unknown[]> => {
    /** topic → partition → its messages, fixed on the first attempt that has metadata. */
    const assigned = new Map<string, Record<string, unknown[]>>();
    const acknowledged = new Set<string>();
    const responses: unknown[] = [];

    /** What is not acknowledged yet, grouped by the broker leading it now. */
    const pendingPerBroker = async (): Promise<Map<Broker, Pending[]>> => {
      await cluster.refreshMetadataIfNecessary();
      const perBroker = new Map<Broker, Pending[]>();
      for (const { topic, messages } of topicMessages) {
        const partitionMetadata = cluster.findTopicPartitionMetadata(topic);
        if (partitionMetadata.length === 0) {
          throw new KafkaJSMetadataNotLoaded("Producing to topic without metadata");
        }
        let messagesPerPartition = assigned.get(topic);
        if (!messagesPerPartition) {
          messagesPerPartition = groupMessagesPerPartition({
            topic,
            partitionMetadata,
            messages,
            partitioner,
          });
          assigned.set(topic, messagesPerPartition);
        }
        const pending = Object.keys(messagesPerPartition).filter((p) => !acknowledged.has(tp(topic, p)));
        const partitionsPerLeader = cluster.findLeaderForPartitions(topic, pending);
        const led = Object.values(partitionsPerLeader).reduce((n, ps) => n + ps.length, 0);
        if (led < pending.length) {
          // kafkajs skips a partition its metadata does not list; here it is retried instead.
          throw new KafkaJSMetadataNotLoaded(
            `no leader known for ${pending.length - led} partition(s) of ${topic}`,
          );
        }
        for (const [nodeId, partitions] of Object.entries(partitionsPerLeader)) {
          const broker = await cluster.findBroker({ nodeId });
          getOrSet(perBroker, broker, () => []).push({ topic, partitions, messagesPerPartition });
        }
      }
      return perBroker;
    };

    const produce = async (broker: Broker, pending: Pending[]) => {
      const topicData = createTopicData(pending);
      await eosManager.acquireBrokerLock(broker);
      try {
        if (eosManager.isTransactional()) await eosManager.addPartitionsToTransaction(topicData);
        for (const { topic, partitions } of topicData) {
          for (const entry of partitions) {
            entry.firstSequence = eosManager.getSequence(topic, entry.partition);
            eosManager.updateSequence(topic, entry.partition, entry.messages.length);
          }
        }
        let response: unknown;
        try {
          response = await broker.produce({
            transactionalId: eosManager.isTransactional() ? eosManager.getTransactionalId() : undefined,
            producerId: eosManager.getProducerId(),
            producerEpoch: eosManager.getProducerEpoch(),
            acks,
            timeout,
            compression,
            topicData,
          });
        } catch (e) {
          for (const { topic, partitions } of topicData) {
            for (const entry of partitions)
              eosManager.updateSequence(topic, entry.partition, -entry.messages.length);
          }
          throw e;
        }
        // A response without an error for the request: every partition in it is written.
        for (const { topic, partitions } of topicData) {
          for (const entry of partitions) acknowledged.add(tp(topic, entry.partition));
        }
        if (acks !== 0) responses.push(...responseSerializer(response));
      } finally {
        await eosManager.releaseBrokerLock(broker);
      }
    };

    return retrier(async (bail, retryCount, retryTime) => {
      await cluster.addMultipleTargetTopics(topicMessages.map(({ topic }) => topic));
      try {
        const perBroker = await pendingPerBroker();
        // Every request of the attempt settles before a retry, so a retry never races a request
        // still in flight (kafkajs's Promise.all could resend what was being written).
        const settled = await Promise.allSettled(
          [...perBroker].map(([broker, pending]) => produce(broker, pending)),
        );
        const failed = settled.find((r) => r.status === "rejected");
        if (failed) throw failed.reason;
        return responses;
      } catch (error) {
        await onSendError({ logger, cluster }, error as KafkaError, { retryCount, retryTime });
        bail(error as Error);
        return responses;
      }
    });
  };
}

/**
 * kafkajs's handling of a failed attempt, unchanged: reconnect or refresh the metadata and throw
 * (the retrier tries again) when the error is retriable; returns (the caller bails) when it is not.
 */
async function onSendError(
  { logger, cluster }: Pick<SendMessagesContext, "logger" | "cluster">,
  e: KafkaError,
  at: { retryCount: number; retryTime: number },
): Promise<void> {
  if (e.name === "KafkaJSConnectionClosedError") cluster.removeBroker({ host: e.host, port: e.port });
  if (!cluster.isConnected()) {
    logger.debug(`Cluster has disconnected, reconnecting: ${e.message}`, at);
    await cluster.connect();
    await cluster.refreshMetadata();
    throw e;
  }
  if (
    staleMetadata(e) ||
    e.name === "KafkaJSMetadataNotLoaded" ||
    e.name === "KafkaJSConnectionError" ||
    e.name === "KafkaJSConnectionClosedError" ||
    (e.name === "KafkaJSProtocolError" && e.retriable)
  ) {
    logger.error(`Failed to send messages: ${e.message}`, at);
    await cluster.refreshMetadata();
    throw e;
  }
  logger.error(`${e.message}`, at);
  if (e.retriable) throw e;
}

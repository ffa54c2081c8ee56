import { type Kafka, Partitioners, type Producer } from "kafkajs";
import type { Logger } from "../logger.ts";
import { retryInBackground, withDeadline } from "../poll.ts";

export type ManagedProducer = {
  producer: Producer;
  /** True while the producer holds a connection to the cluster. */
  readonly connected: boolean;
  /** Resolves once connected (or rejects after `timeoutMs`). */
  ready(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
};

/**
 * A producer that connects in the background and keeps trying, so a process can start (and
 * answer 503) while Kafka is away. Keys are partitioned with the Java client's murmur2, so direct
 * producers in other languages put a user on the same partition as we do.
 *
 * One request in flight per broker: a later request never overtakes an earlier one (a retry is
 * sent before the next request), so what the ingress accepted for a user stays in the order it
 * was accepted (law 3). Retries are bounded (a caller waiting on a decision or a 503 must hear
 * back); a send that fails after its retries may still have been written — the caller's retry
 * with the same transaction_id is harmless (law 2), and so is a batch a retry wrote twice.
 *
 * Not idempotent, on purpose: kafkajs 2.2.4's idempotent producer rolls its sequence numbers back
 * when a request fails although the broker may have written it (a timeout, a broker killed), so
 * the next batch of the same size carries the same numbers and the broker acknowledges it as a
 * duplicate without writing it — acknowledged data silently lost. `npm run chaos` found it (13 of
 * 99,900 accepted transactions after a broker SIGKILL); test/integration/producer-uncertain-send
 * reproduces it. Duplicates are absorbed by transaction_id; losses are not.
 */
export function createManagedProducer(
  kafka: Kafka,
  logger: Logger,
  { retries = 5, requestTimeoutMs }: { retries?: number; requestTimeoutMs?: number } = {},
): ManagedProducer {
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: false,
    maxInFlightRequests: 1,
    retry: { retries, initialRetryTime: 100, maxRetryTime: 1_000 },
    ...(requestTimeoutMs ? { requestTimeout: requestTimeoutMs } : {}),
  });
  let connected = false;
  let closed = false;
  producer.on(producer.events.CONNECT, () => {
    connected = true;
  });
  producer.on(producer.events.DISCONNECT, () => {
    connected = false;
  });

  let failedOnce = false;
  const connecting = retryInBackground(() => producer.connect(), {
    stopped: () => closed,
    onFirstFailure: (error) => {
      failedOnce = true;
      logger.warn({ err: error.message }, "kafka unavailable; retrying in background");
    },
  }).then((ok) => {
    if (ok && failedOnce) logger.info("kafka producer connected");
  });

  return {
    producer,
    get connected() {
      return connected;
    },
    async ready(timeoutMs) {
      await withDeadline(
        connecting,
        timeoutMs,
        () => new Error(`Kafka not reachable within ${timeoutMs} ms`),
      );
      if (!connected) throw new Error("Kafka producer not connected");
    },
    async close() {
      closed = true;
      await connecting;
      await producer.disconnect();
    },
  };
}

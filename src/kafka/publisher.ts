import type { Message, Producer, TopicMessages } from "kafkajs";
import { SentinelError } from "../errors.ts";
import { someCause } from "./kafka-errors.ts";

/*
 * The one publish boundary for decisions and dead letters: acks=all, split into produce requests
 * that fit the broker's limits by bytes (not only by count: a burst of large poison messages once
 * made one request over the broker's limit, which was retried for ever, law 4). A broker that
 * refuses a request for its size is not an outage: the request is split further, and a single
 * message it still refuses is reported as not retryable. Anything else is `broker_unavailable`.
 */

/** Bytes a message takes in a request beside its key and value (headers, record framing). */
function sizeOf(m: Message): number {
  let n = 70 + (m.key?.length ?? 0) + (m.value?.length ?? 0);
  for (const [k, v] of Object.entries(m.headers ?? {})) n += k.length + 8 + (v ? String(v).length : 0);
  return n;
}

/** Whether kafkajs's error (or any cause under it) is the broker refusing a size. */
export function isSizeRefusal(error: unknown): boolean {
  return someCause(
    error,
    (e) =>
      e.type === "MESSAGE_TOO_LARGE" ||
      e.type === "RECORD_LIST_TOO_LARGE" ||
      (typeof e.message === "string" && /larger than the max message size|too large/i.test(e.message)),
  );
}

/** Splits topic messages into requests of at most `maxBytes` each (one message alone may exceed it). */
export function splitRequests(topicMessages: readonly TopicMessages[], maxBytes: number): TopicMessages[][] {
  const requests: TopicMessages[][] = [];
  let current: TopicMessages[] = [];
  let bytes = 0;
  for (const { topic, messages } of topicMessages) {
    let batch: Message[] = [];
    for (const m of messages) {
      const size = sizeOf(m);
      if (bytes > 0 && bytes + size > maxBytes) {
        if (batch.length > 0) current.push({ topic, messages: batch });
        requests.push(current);
        current = [];
        batch = [];
        bytes = 0;
      }
      batch.push(m);
      bytes += size;
    }
    if (batch.length > 0) current.push({ topic, messages: batch });
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

export type Publisher = {
  /**
   * Publishes in order, with acks=all.
   * @throws SentinelError broker_unavailable (retryable) when the broker cannot take them, or
   * internal (not retryable) when it refuses a single message for its size.
   */
  publish(topicMessages: readonly TopicMessages[]): Promise<void>;
};

export function createPublisher({
  producer,
  maxRequestBytes,
}: {
  producer: Pick<Producer, "sendBatch">;
  maxRequestBytes: number;
}): Publisher {
  async function send(request: TopicMessages[]): Promise<void> {
    try {
      await producer.sendBatch({ topicMessages: request, acks: -1 });
    } catch (error) {
      if (!isSizeRefusal(error)) {
        throw new SentinelError("broker_unavailable", "could not publish decisions", { cause: error });
      }
      const flat = request.flatMap(({ topic, messages }) => messages.map((m) => ({ topic, m })));
      if (flat.length <= 1) {
        throw new SentinelError("internal", "the broker refuses this message for its size", { cause: error });
      }
      // Halve and send each half in order.
      const mid = Math.floor(flat.length / 2);
      for (const half of [flat.slice(0, mid), flat.slice(mid)]) {
        const byTopic: TopicMessages[] = [];
        for (const { topic, m } of half) {
          const last = byTopic[byTopic.length - 1];
          if (last?.topic === topic) last.messages.push(m);
          else byTopic.push({ topic, messages: [m] });
        }
        await send(byTopic);
      }
    }
  }
  return {
    async publish(topicMessages) {
      const nonEmpty = topicMessages.filter((t) => t.messages.length > 0);
      for (const request of splitRequests(nonEmpty, maxRequestBytes)) await send(request);
    },
  };
}

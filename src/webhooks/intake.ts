import type { EachBatchPayload, Kafka, KafkaMessage, Producer } from "kafkajs";
import { type DeadLetter, encodeDeadLetter } from "../kafka/dead-letter-codec.ts";
import { createGroupConsumer, IDLE_READER_WAIT_MS } from "../kafka/group-consumer.ts";
import { createPublisher } from "../kafka/publisher.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import type { DeliveryStore } from "./delivery-store.ts";
import { decisionEvents, labelEvents, outboxEvents, type WebhookEvent } from "./events.ts";

/*
 * The webhook intake (issue 23): its own consumer group on the decisions, labels and events topics.
 * Each batch's events become deliveries — one per enabled endpoint that subscribes to the type and
 * existed when the event happened, matched inside the statement that stores them (one statement a
 * batch; no endpoint created a moment ago is missed) — and only then is the batch's offset
 * committed: an event is stored before it is acknowledged, whatever stops the process (at least
 * once; a batch read twice stores nothing twice, by message id). PostgreSQL away: the batch is
 * retried, heartbeating, until it answers. The scorer never waits on any of this.
 */

export type Intake = { stop(): Promise<void> };

/** A message of a webhook source topic that is no event of ours, as a dead letter. */
function invalidEvent(m: KafkaMessage, error: unknown): DeadLetter {
  const detail = error instanceof Error ? error.message : String(error);
  return {
    message: { key: m.key, value: m.value, offset: m.offset, timestamp: m.timestamp },
    reason: "invalid_event",
    detail: detail.slice(0, 500),
  };
}

export async function startIntake({
  kafka,
  groupId,
  topics,
  deliveries,
  onStored,
  metrics,
  logger,
  sessionTimeoutMs,
  onFatal,
  deadLetters,
}: {
  kafka: Kafka;
  groupId: string;
  topics: { decisions: string; labels: string; events: string };
  deliveries: Pick<DeliveryStore, "enqueue">;
  /** Called after deliveries were stored (the dispatcher sends them at once). */
  onStored: () => void;
  metrics: Metrics["webhooks"];
  logger: Logger;
  sessionTimeoutMs: number;
  /** kafkajs gave up on the intake's consumer (it will not restart it). */
  onFatal: (error: Error) => void;
  /** Where a message that is no event of ours goes (acks=all), never signed nor sent. */
  deadLetters: { producer: Pick<Producer, "sendBatch">; topic: string; maxBytes: number };
}): Promise<Intake> {
  const parse: Record<string, (value: unknown) => WebhookEvent[]> = {
    [topics.decisions]: decisionEvents,
    [topics.labels]: labelEvents,
    [topics.events]: outboxEvents,
  };
  // Anything kafkajs gives up on: onFatal (the process exits (1) for its supervisor to restart it).
  const group = createGroupConsumer(kafka, {
    groupId,
    name: "intake",
    logger,
    sessionTimeoutMs,
    maxWaitTimeInMs: IDLE_READER_WAIT_MS,
    // Small fetches: a backlog is held in PostgreSQL, not in this process's memory.
    maxBytes: 1024 * 1024,
    maxBytesPerPartition: 256 * 1024,
    onFatal,
  });
  const { consumer } = group;
  // The publish boundary every letter goes through (acks=all, requests split to fit).
  const letters = createPublisher({ producer: deadLetters.producer, maxRequestBytes: deadLetters.maxBytes });
  let stopping = false;

  async function eachBatch({ batch, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    // Not ours any more (or stopping): left uncommitted, read again by whoever owns it.
    const abandoned = () => stopping || !isRunning() || isStale();
    const toEvents = parse[batch.topic]!;
    const events: WebhookEvent[] = [];
    const invalid: DeadLetter[] = [];
    for (const m of batch.messages) {
      try {
        events.push(...toEvents(JSON.parse(m.value?.toString() ?? "null")));
      } catch (error) {
        // No event of ours (issue 35): dead-lettered, never signed and sent; never a reason to stop.
        invalid.push(invalidEvent(m, error));
        logger.error(
          { topic: batch.topic, offset: m.offset, err: String((error as Error).message).slice(0, 300) },
          "invalid event dead-lettered",
        );
      }
    }
    for (const [type, list] of Map.groupBy(events, (e) => e.type)) metrics.events.inc({ type }, list.length);
    for (let attempt = 0; ; attempt++) {
      if (abandoned()) return;
      try {
        if ((await deliveries.enqueue(events)) > 0) onStored();
        if (invalid.length > 0) {
          await letters.publish([
            {
              topic: deadLetters.topic,
              messages: invalid.map((d) =>
                encodeDeadLetter(d, batch.topic, batch.partition, deadLetters.maxBytes),
              ),
            },
          ]);
          metrics.invalidEvents.inc(invalid.length);
          invalid.length = 0; // written: a retry of the store does not letter them twice
        }
        break;
      } catch (error) {
        logger.warn({ err: (error as Error).message, attempt }, "webhook deliveries not stored; retrying");
        await heartbeat().catch(() => {});
        await new Promise((r) => setTimeout(r, Math.min(5_000, 200 * 2 ** Math.min(attempt, 5))));
      }
    }
    const offset = String(Number(batch.lastOffset()) + 1);
    try {
      // A refused commit (a busy or moving coordinator) is sent again while the partition is ours:
      // the last batch's commit refused once would leave the intake's lag > 0 until a rebalance.
      await group.commit({
        topic: batch.topic,
        partition: batch.partition,
        offset,
        current: () => !abandoned(),
        attempts: 3, // awaited here: the member rejoins (and heartbeats) only once the batch returns
      });
    } catch (error) {
      // The group moved on while PostgreSQL was retried (this member's session expired; the
      // partition has a new owner): the deliveries are stored, and whoever owns the partition now
      // reads it again from the last commit — enqueueing the same events stores nothing twice
      // (one row per endpoint and message id). Thrown, it ended the intake for good (kafkajs does
      // not restart a consumer on a non-retriable error), while the process lived on.
      logger.warn(
        { partition: batch.partition, err: (error as Error).message },
        "intake commit refused; the group rejoins",
      );
    }
  }

  await consumer.connect();
  await consumer.subscribe({ topics: [topics.decisions, topics.labels, topics.events], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: true,
    partitionsConsumedConcurrently: 12,
    eachBatch,
  });
  return {
    async stop() {
      stopping = true;
      await consumer.disconnect();
    },
  };
}

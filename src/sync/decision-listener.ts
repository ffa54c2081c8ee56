import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { EachBatchPayload, Kafka } from "kafkajs";
import type { Decision } from "../domain/decision.ts";
import { payloadFingerprint } from "../domain/transaction.ts";
import { withAdmin } from "../kafka/admin.ts";
import { DLQ_HEADERS, header } from "../kafka/dead-letter-codec.ts";
import { createGroupConsumer, IDLE_READER_WAIT_MS } from "../kafka/group-consumer.ts";
import type { Logger } from "../logger.ts";
import { retryInBackground } from "../poll.ts";

/*
 * What lets an ingress answer `Prefer: wait` with the decision: every ingress process reads the
 * decisions topic (and the DLQ, for `id_conflict` letters) from its end, with a consumer group of
 * its own, so several ingress processes behind one address each see every decision and answer their
 * own waits. Nothing is committed; the group is deleted when the process stops (a SIGKILLed one is
 * an empty group the coordinator forgets). Decisions published while the process starts are not
 * seen: those waits end in 202, as any wait may.
 */

export type DecisionListener = {
  /** Joins in the background, retrying while Kafka is away; never throws. */
  start(): void;
  /** True once the group is joined: decisions published from now on are seen. */
  readonly ready: boolean;
  stop(): Promise<void>;
};

export function createDecisionListener({
  kafka,
  topics,
  groupPrefix,
  logger,
  onDecision,
  onConflict,
  wanted = () => true,
}: {
  kafka: Kafka;
  topics: { decisions: string; dlq: string };
  groupPrefix: string;
  logger: Logger;
  onDecision(decision: Decision): void;
  onConflict(transactionId: string, fingerprint: string): void;
  /**
   * Whether anyone takes decisions now (a sync wait, a console). Every ingress reads the whole
   * decisions topic; while nobody waits, its batches are skipped unparsed.
   */
  wanted?: () => boolean;
}): DecisionListener {
  const groupId = `${groupPrefix}-${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  let ready = false;
  let stopped = false;
  const { consumer } = createGroupConsumer(kafka, {
    groupId,
    name: "decision listener",
    logger,
    sessionTimeoutMs: 10_000,
    maxWaitTimeInMs: IDLE_READER_WAIT_MS,
    onRestart: () => {
      ready = false;
    },
    onFatal: (error) => {
      ready = false;
      logger.warn({ err: error.message }, "decision listener stopped by kafkajs; starting it again");
      if (!stopped) void run(); // start again: sync waits must not silently stop working
    },
  });
  consumer.on(consumer.events.GROUP_JOIN, () => {
    // Logged at the first join and after a restart: an operator (and a test of a spawned ingress)
    // sees from when a sync wait can be answered; a wait that began before may end in 202.
    if (!ready) logger.info({ groupId }, "decision listener joined: sync waits answered from now on");
    ready = true;
  });

  async function run(): Promise<void> {
    await retryInBackground(
      async () => {
        await consumer.connect();
        await consumer.subscribe({ topics: [topics.decisions, topics.dlq], fromBeginning: false });
        await consumer.run({ autoCommit: false, partitionsConsumedConcurrently: 4, eachBatch });
      },
      {
        stopped: () => stopped,
        onFirstFailure: (error) => logger.warn({ err: error.message }, "decision listener waiting for Kafka"),
      },
    );
  }

  async function eachBatch({ batch }: EachBatchPayload): Promise<void> {
    if (batch.topic === topics.decisions) {
      if (!wanted()) return;
      for (const m of batch.messages) {
        if (!m.value) continue;
        try {
          onDecision(JSON.parse(m.value.toString("utf8")) as Decision);
        } catch {
          // not ours to judge: a reader of the topic skips what it cannot read
        }
      }
      return;
    }
    for (const m of batch.messages) {
      if (header(m.headers, DLQ_HEADERS.reason) !== "id_conflict" || !m.value) continue;
      try {
        const tx = JSON.parse(m.value.toString("utf8"));
        onConflict(String(tx.transaction_id).toLowerCase(), payloadFingerprint(tx));
      } catch {
        // a letter that is not a transaction concerns no wait
      }
    }
  }

  return {
    start() {
      void run();
    },
    get ready() {
      return ready;
    },
    async stop() {
      stopped = true;
      await consumer.disconnect().catch(() => {});
      // An empty group without offsets is forgotten by the coordinator anyway.
      await withAdmin(kafka, (admin) => admin.deleteGroups([groupId])).catch(() => {});
    },
  };
}

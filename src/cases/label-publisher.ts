import type { Producer } from "kafkajs";
import type { Label, LabelSource } from "../domain/case.ts";
import { SentinelError } from "../errors.ts";

/*
 * Labels on `transactions.labels` (key user_id, acks=all): what downstream systems (and the model
 * training of a later issue) learn from. The message is the label as stored, with its source.
 */

export type LabelMessage = {
  transaction_id: string;
  user_id: string;
  label: Label;
  source: LabelSource;
  note?: string;
  labelled_at: string;
};

export type LabelPublisher = {
  /** @throws SentinelError(unavailable) when Kafka did not acknowledge it in time: the caller retries. */
  publish(label: LabelMessage): Promise<void>;
};

export function createLabelPublisher({
  producer,
  topic,
  timeoutMs,
}: {
  producer: Producer;
  topic: string;
  timeoutMs: number;
}): LabelPublisher {
  return {
    async publish(label) {
      try {
        await producer.send({
          topic,
          acks: -1,
          timeout: timeoutMs,
          messages: [{ key: label.user_id, value: JSON.stringify(label) }],
        });
      } catch (error) {
        throw new SentinelError(
          "unavailable",
          "label stored, but not yet published on the labels topic: retry",
          {
            cause: error,
          },
        );
      }
    },
  };
}

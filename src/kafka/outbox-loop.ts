import type { Producer } from "kafkajs";
import type { Logger } from "../logger.ts";
import type { DatabasePool } from "../store/pool.ts";

/*
 * What every outbox publisher shares (labels, events): publish what is pending at once when asked
 * (after a change's commit) and every `intervalMs` for what is still pending (the broker was away,
 * the process died), one drain at a time — two would publish the same rows twice (harmless for
 * at-least-once readers, but wasteful). A failed drain is logged and retried by the next.
 */

export type OutboxLoop = {
  /** Publishes what is pending; returns how many were published. Never throws. */
  publishPending(): Promise<number>;
  /** Publishes pending rows every intervalMs until stop(). */
  start(): void;
  stop(): Promise<void>;
};

/** What an outbox publisher is made from (the label and the event outbox alike). */
export type OutboxOptions = {
  pool: DatabasePool;
  producer: Pick<Producer, "sendBatch">;
  topic: string;
  /** The largest produce request (bytes): what is published is split to fit. */
  maxRequestBytes: number;
  logger: Logger;
  intervalMs?: number;
  /** Rows published per drain, at most. */
  batch?: number;
};

export function createOutboxLoop({
  drain,
  intervalMs,
  logger,
  what,
}: {
  /** Publishes one batch of pending rows and marks them published; returns how many. */
  drain: () => Promise<number>;
  intervalMs: number;
  logger: Logger;
  /** What is published, for the log ("labels", "events"). */
  what: string;
}): OutboxLoop {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  const publishPending = (): Promise<number> => {
    running ??= drain()
      .catch((error: unknown) => {
        logger.warn({ err: (error as Error).message }, `${what} not published yet; retrying from the outbox`);
        return 0;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  return {
    publishPending,
    start() {
      timer = setInterval(() => void publishPending(), intervalMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

// First: kafkajs must load with its patches in place (kafkajs-patches.ts).
import "./kafkajs-patches.ts";
import { connect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { type Consumer, type ISocketFactory, Kafka, type LogEntry, logLevel } from "kafkajs";
import type { Logger } from "../logger.ts";

const LEVELS: Record<number, "error" | "warn" | "info" | "debug"> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

/**
 * kafkajs's default sockets leave Nagle's algorithm on, so a small produce request can wait for
 * the broker's delayed ACK (tens of milliseconds) before it leaves. The Java client sets
 * TCP_NODELAY; so do we.
 */
export const noDelaySocketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket = ssl
    ? tlsConnect({ host, port, servername: host, ...ssl }, onConnect)
    : connect({ host, port }, onConnect);
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 60_000);
  return socket;
};

/** A kafkajs client whose logs go through pino, at warn and above unless debugging. */
export function createKafka({
  brokers,
  clientId,
  logger,
  connectionTimeoutMs = 3_000,
  requestTimeoutMs = 10_000,
}: {
  brokers: readonly string[];
  clientId: string;
  logger: Logger;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}): Kafka {
  const log = logger.child({ component: "kafkajs" });
  return new Kafka({
    clientId,
    brokers: [...brokers],
    connectionTimeout: connectionTimeoutMs,
    requestTimeout: requestTimeoutMs,
    socketFactory: noDelaySocketFactory,
    logLevel: logger.isLevelEnabled("debug") ? logLevel.DEBUG : logLevel.WARN,
    logCreator:
      () =>
      ({ level, namespace, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        log[LEVELS[level] ?? "info"]({ namespace, ...rest }, message);
      },
  });
}

/**
 * A consumer's crashes: one kafkajs restarts is a warning; one it gives up on (it will not restart
 * the consumer) goes to `onFatal` — a process left running with a consumer that reads nothing would
 * look healthy. The scorer and the webhook intake alike.
 */
export function onConsumerCrash(
  consumer: Consumer,
  { logger, name, onFatal }: { logger: Logger; name: string; onFatal: (error: Error) => void },
): void {
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    const { error, restart } = payload as { error: Error; restart: boolean };
    if (restart) logger.warn({ err: error.message }, `${name} crashed; kafkajs restarts it`);
    else onFatal(error);
  });
}

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { connect, isIP } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { type ISocketFactory, Kafka, type KafkaConfig, type LogEntry, logLevel } from "kafkajs";
import type { KafkaSecurity } from "../config.ts";
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
    ? // SNI carries names only (RFC 6066): an address is checked against the certificate's IP SANs.
      tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...ssl }, onConnect)
    : connect({ host, port }, onConnect);
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 60_000);
  return socket;
};

/*
 * kafkajs is SentinelStream's fork of 2.2.4: the diffs in patches/ are applied by patch-package
 * when npm installs (docs/kafka-client.md). The last patch adds a list of what was applied; a
 * kafkajs without it (installed with --ignore-scripts, say) would silently bring back the bugs
 * those patches fix, so no client is made with it.
 */
const FORK_CHANGES = 10;
let forkChecked = false;

/**
 * @param pkg the package to check (tests name the pristine copy, `kafkajs-pristine`)
 * @throws Error when the installed kafkajs is not the fork (its patches were not applied).
 */
export function assertKafkaFork(pkg = "kafkajs"): void {
  if (forkChecked && pkg === "kafkajs") return;
  let changes: readonly string[] = [];
  try {
    changes = createRequire(import.meta.url)(`${pkg}/src/sentinelFork.js`) as readonly string[];
  } catch {
    // not the fork: reported below
  }
  if (changes.length !== FORK_CHANGES) {
    throw new Error(
      `${pkg} is not SentinelStream's fork of kafkajs: the patches in patches/ were not applied (run \`npm ci\` without --ignore-scripts, or \`npx patch-package\`)`,
    );
  }
  if (pkg === "kafkajs") forkChecked = true;
}

/** kafkajs's `ssl` and `sasl` from our settings (the files read once, here). */
export function securityOptions(security: KafkaSecurity | undefined): Pick<KafkaConfig, "ssl" | "sasl"> {
  if (!security) return {};
  const { ssl, sasl } = security;
  const read = (file: string | undefined) => (file === undefined ? undefined : readFileSync(file, "utf8"));
  return {
    ssl: ssl
      ? {
          ca: ssl.caFile === undefined ? undefined : [read(ssl.caFile)!],
          cert: read(ssl.certFile),
          key: read(ssl.keyFile),
          ...(ssl.servername === undefined ? {} : { servername: ssl.servername }),
        }
      : false,
    ...(sasl
      ? { sasl: { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } }
      : {}),
  } as Pick<KafkaConfig, "ssl" | "sasl">;
}

/** A kafkajs client whose logs go through pino, at warn and above unless debugging. */
export function createKafka({
  brokers,
  clientId,
  logger,
  security,
  connectionTimeoutMs = 3_000,
  requestTimeoutMs = 10_000,
}: {
  brokers: readonly string[];
  clientId: string;
  logger: Logger;
  /** TLS and SASL (config.kafka.security); none: plaintext. */
  security?: KafkaSecurity;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}): Kafka {
  assertKafkaFork();
  const log = logger.child({ component: "kafkajs" });
  return new Kafka({
    clientId,
    brokers: [...brokers],
    ...securityOptions(security),
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

import { readFileSync } from "node:fs";
import type { Env } from "./config-env.ts";
import { SentinelError } from "./errors.ts";

/*
 * Secrets in deployment (issue 34): each can be read from a file (`X_FILE`, the Docker and
 * Kubernetes convention for mounted secrets), passwords can be kept out of the URLs, and Kafka's
 * TLS and SASL settings are checked together. Used by config.ts only.
 */

/** The variables that may come from a file named by `<name>_FILE`. */
export const SECRET_VARIABLES = [
  "API_KEYS",
  "WEBHOOK_SECRET_KEY",
  "KAFKA_SASL_PASSWORD",
  "DATABASE_URL",
  "DATABASE_PASSWORD",
  "DATABASE_MIGRATE_URL",
  "DATABASE_RUNTIME_PASSWORD",
  "REDIS_URL",
  "REDIS_PASSWORD",
  "SCHEMA_REGISTRY_USER_INFO",
] as const;

export type TopicKind = "transactions" | "decisions" | "dlq" | "labels" | "events";

export type KafkaSecurity = Readonly<{
  ssl: false | Readonly<{ caFile?: string; certFile?: string; keyFile?: string; servername?: string }>;
  sasl:
    | Readonly<{ mechanism: "plain" | "scram-sha-256" | "scram-sha-512"; username: string; password: string }>
    | undefined;
}>;

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** What no single variable's schema can see: combinations that contradict each other. */
export function checkCombinations(e: Env): void {
  if (
    e.TOPIC_MIN_INSYNC_REPLICAS !== undefined &&
    e.TOPIC_MIN_INSYNC_REPLICAS > (e.TOPIC_REPLICATION_FACTOR ?? Number.POSITIVE_INFINITY)
  ) {
    throw new SentinelError(
      "config_invalid",
      "invalid configuration:\n  TOPIC_MIN_INSYNC_REPLICAS: must not exceed TOPIC_REPLICATION_FACTOR",
    );
  }
  const problems = [...kafkaSecurityProblems(e)];
  if (e.NODE_ENV === "production" && e.WEBHOOK_ALLOW_PRIVATE)
    problems.push("WEBHOOK_ALLOW_PRIVATE: refused in production (webhooks could reach the private network)");
  if (problems.length > 0)
    throw new SentinelError(
      "config_invalid",
      `invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`,
    );
  if (e.RULES_REVIEW_THRESHOLD > e.RULES_DECLINE_THRESHOLD) {
    throw new SentinelError(
      "config_invalid",
      "invalid configuration:\n  RULES_REVIEW_THRESHOLD: must not exceed RULES_DECLINE_THRESHOLD",
    );
  }
}

const invalid = (lines: string[]) =>
  new SentinelError("config_invalid", `invalid configuration:\n${lines.map((l) => `  ${l}`).join("\n")}`);

/**
 * Replaces each `<name>_FILE` by `<name>` read from that file (one trailing newline dropped).
 * @throws SentinelError(config_invalid) when both are set, or the file cannot be read or is empty.
 */
export function withSecretFiles(env: Record<string, string>): Record<string, string> {
  const out = { ...env };
  const problems: string[] = [];
  for (const name of SECRET_VARIABLES) {
    const file = out[`${name}_FILE`];
    if (file === undefined) continue;
    delete out[`${name}_FILE`];
    if (out[name] !== undefined) {
      problems.push(`${name}_FILE: ${name} is set as well; set one of them`);
      continue;
    }
    let value: string;
    try {
      value = readFileSync(file, "utf8").replace(/\r?\n$/, "");
    } catch (error) {
      problems.push(
        `${name}_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`,
      );
      continue;
    }
    if (value === "") problems.push(`${name}_FILE: ${file} is empty`);
    else out[name] = value;
  }
  if (problems.length > 0) throw invalid(problems);
  return out;
}

/** The URL with its password replaced by `password` (when given). */
export function withPassword(url: string, password: string | undefined): string {
  if (password === undefined) return url;
  const u = new URL(url);
  u.password = encodeURIComponent(password);
  return u.toString();
}

/** What contradicts itself among the Kafka security settings (each line names its variable). */
export function kafkaSecurityProblems(e: Env): string[] {
  const problems: string[] = [];
  const tlsFiles = [e.KAFKA_SSL_CA_FILE, e.KAFKA_SSL_CERT_FILE, e.KAFKA_SSL_KEY_FILE, e.KAFKA_SSL_SERVERNAME];
  if (!e.KAFKA_SSL && tlsFiles.some((f) => f !== undefined))
    problems.push("KAFKA_SSL: the KAFKA_SSL_* settings need KAFKA_SSL=true");
  if ((e.KAFKA_SSL_CERT_FILE === undefined) !== (e.KAFKA_SSL_KEY_FILE === undefined))
    problems.push(
      "KAFKA_SSL_CERT_FILE: a client certificate needs its key (KAFKA_SSL_KEY_FILE), and the key its certificate",
    );
  for (const [name, file] of [
    ["KAFKA_SSL_CA_FILE", e.KAFKA_SSL_CA_FILE],
    ["KAFKA_SSL_CERT_FILE", e.KAFKA_SSL_CERT_FILE],
    ["KAFKA_SSL_KEY_FILE", e.KAFKA_SSL_KEY_FILE],
    ["SCHEMA_REGISTRY_CA_FILE", e.SCHEMA_REGISTRY_CA_FILE],
    ["REDIS_TLS_CA_FILE", e.REDIS_TLS_CA_FILE],
  ] as const) {
    if (file === undefined) continue;
    try {
      readFileSync(file);
    } catch (error) {
      problems.push(`${name}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
    }
  }
  const sasl = [e.KAFKA_SASL_MECHANISM, e.KAFKA_SASL_USERNAME, e.KAFKA_SASL_PASSWORD];
  if (sasl.some((x) => x !== undefined) && sasl.some((x) => x === undefined))
    problems.push(
      "KAFKA_SASL_MECHANISM: SASL needs all three of KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD",
    );
  if (e.KAFKA_SASL_MECHANISM === "plain" && !e.KAFKA_SSL)
    problems.push("KAFKA_SASL_MECHANISM: plain sends the password as it is; it needs KAFKA_SSL=true");
  return problems;
}

export function kafkaSecurity(e: Env): KafkaSecurity {
  return {
    ssl: e.KAFKA_SSL
      ? {
          caFile: e.KAFKA_SSL_CA_FILE,
          certFile: e.KAFKA_SSL_CERT_FILE,
          keyFile: e.KAFKA_SSL_KEY_FILE,
          servername: e.KAFKA_SSL_SERVERNAME,
        }
      : false,
    sasl:
      e.KAFKA_SASL_MECHANISM && e.KAFKA_SASL_USERNAME && e.KAFKA_SASL_PASSWORD
        ? {
            mechanism: e.KAFKA_SASL_MECHANISM,
            username: e.KAFKA_SASL_USERNAME,
            password: e.KAFKA_SASL_PASSWORD,
          }
        : undefined,
  };
}

/** A URL fit for a log: its password replaced by `***`. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(not a URL)";
  }
}

/** What the retention job keeps in PostgreSQL (src/store/retention.ts). */
export type RetentionPolicy = Readonly<{
  /** Transactions and decisions (whole weekly partitions: kept up to a week longer). */
  transactionsDays: number;
  /** Resolved cases. */
  casesDays: number;
  /** Delivered and failed webhook deliveries (with their attempts). */
  webhookDeliveriesDays: number;
  /** Published rows of the event and label outboxes. */
  outboxDays: number;
  /** The per-user state: buckets and last-seen values older than this (keep ≥ the widest window). */
  userStateDays: number;
}>;

/** RETENTION_*: what the retention job keeps (src/store/retention.ts), and how often it runs. */
export function retentionPolicy(e: Env): RetentionPolicy & { intervalMs: number } {
  return {
    transactionsDays: e.RETENTION_TRANSACTIONS_DAYS,
    casesDays: e.RETENTION_CASES_DAYS,
    webhookDeliveriesDays: e.RETENTION_WEBHOOK_DELIVERIES_DAYS,
    outboxDays: e.RETENTION_OUTBOX_DAYS,
    userStateDays: e.RETENTION_USER_STATE_DAYS,
    intervalMs: e.RETENTION_INTERVAL_MINUTES * 60_000,
  };
}

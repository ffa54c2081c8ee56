import type { Config } from "../config.ts";
import { redactedUrl } from "../config-secrets.ts";
import { withAdmin } from "../kafka/admin.ts";
import { createKafka } from "../kafka/client.ts";
import { topicConfigs } from "../kafka/topics.ts";
import type { Logger } from "../logger.ts";
import { createDatabasePool } from "../store/pool.ts";
import { describeRole } from "../store/runtime-role.ts";

/*
 * `sentinel doctor` (issue 34): the effective configuration with its secrets masked, and a
 * checklist of what a production deployment needs, each item with what to change. A start with
 * NODE_ENV=production runs the same checks and refuses while any fails, unless the operator waived
 * it by name (DOCTOR_WAIVE=name,…; the waiver is logged at every start).
 */

export type CheckResult = { name: string; ok: boolean; detail: string; fix: string };

export const CHECK_NAMES = [
  "kafka_tls",
  "kafka_sasl",
  "kafka_replication",
  "kafka_retention",
  "postgres_tls",
  "postgres_runtime_role",
  "redis_tls",
  "redis_user",
  "api_keys",
  "webhook_secret_key",
  "approvals",
] as const;

const check = (name: string, ok: boolean, detail: string, fix: string): CheckResult => ({
  name,
  ok,
  detail,
  fix,
});

/** The checks that need no connection: what the configuration says. */
export function configChecks(config: Config): CheckResult[] {
  const { security } = config.kafka;
  const db = new URL(config.database.url);
  const sslmode = db.searchParams.get("sslmode");
  const redis = new URL(config.redis.url);
  return [
    check(
      "kafka_tls",
      security.ssl !== false,
      security.ssl ? "TLS on" : "plaintext",
      "set KAFKA_SSL=true (and KAFKA_SSL_CA_FILE for a private CA)",
    ),
    check(
      "kafka_sasl",
      security.sasl !== undefined,
      security.sasl ? `SASL ${security.sasl.mechanism} as ${security.sasl.username}` : "no SASL",
      "set KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD_FILE (one principal per process: docs/operations.md)",
    ),
    check(
      "postgres_tls",
      sslmode === "verify-full",
      `sslmode=${sslmode ?? "(none)"}`,
      "add ?sslmode=verify-full&sslrootcert=<CA file> to DATABASE_URL",
    ),
    check(
      "redis_tls",
      redis.protocol === "rediss:",
      redis.protocol.replace(":", ""),
      "use a rediss:// REDIS_URL (REDIS_TLS_CA_FILE for a private CA)",
    ),
    check(
      "redis_user",
      redis.username !== "" && redis.username !== "default",
      redis.username ? `user ${redis.username}` : "the default user",
      "give Redis an ACL user: rediss://<user>@host:port with REDIS_PASSWORD_FILE",
    ),
    check(
      "api_keys",
      config.http.apiKeys.length > 0 && !config.http.authDisabled,
      config.http.authDisabled ? "AUTH_DISABLED=true" : `${config.http.apiKeys.length} key(s)`,
      "set API_KEYS_FILE (role:name:key entries) and unset AUTH_DISABLED",
    ),
    check(
      "webhook_secret_key",
      !config.webhooks.secretKeyIsDevelopment,
      config.webhooks.secretKeyIsDevelopment ? "the development key (in the source)" : "set",
      "set WEBHOOK_SECRET_KEY_FILE (32 random bytes, hex)",
    ),
    check(
      "approvals",
      config.approvals.required,
      config.approvals.required ? "four eyes on" : "one admin key changes decisions alone",
      "set APPROVALS_REQUIRED=true (with two admin keys: docs/security.md#four-eyes)",
    ),
  ];
}

async function kafkaChecks(config: Config, logger: Logger): Promise<CheckResult[]> {
  const kafka = createKafka({
    brokers: config.kafka.brokers,
    clientId: `${config.kafka.clientId}-doctor`,
    logger: logger.child({}, { level: "fatal" }),
    security: config.kafka.security,
  });
  const topics = Object.values(config.kafka.topics);
  try {
    return await withAdmin(
      kafka,
      async (admin) => {
        const meta = await admin.fetchTopicMetadata({ topics });
        const configs = await topicConfigs(admin, topics);
        const weak = meta.topics.filter((t) => {
          const isr = configs.get(t.name)?.get("min.insync.replicas")?.value;
          return (t.partitions[0]?.replicas.length ?? 0) < 3 || Number(isr ?? 1) < 2;
        });
        const unset = topics.filter((t) => !configs.get(t)?.get("retention.ms")?.own);
        return [
          check(
            "kafka_replication",
            weak.length === 0,
            weak.length
              ? `under 3 replicas or min.insync.replicas < 2: ${weak.map((t) => t.name).join(", ")}`
              : "3+ replicas, 2+ in sync",
            "run three brokers or more; `sentinel init` creates the topics with 3 replicas and min.insync.replicas=2",
          ),
          check(
            "kafka_retention",
            unset.length === 0,
            unset.length ? `broker default on ${unset.join(", ")}` : "set on every topic",
            "run `sentinel init` (TOPIC_*_RETENTION_DAYS)",
          ),
        ];
      },
      { retry: { retries: 1 } },
    );
  } catch (error) {
    const detail = `could not check: ${(error as Error).message}`;
    return [
      check("kafka_replication", false, detail, "make Kafka reachable with this process's settings"),
      check("kafka_retention", false, detail, "make Kafka reachable with this process's settings"),
    ];
  }
}

async function postgresCheck(config: Config): Promise<CheckResult> {
  const fix =
    "run the services as the runtime role (DATABASE_URL with sentinel_app); migrate as the owner (DATABASE_MIGRATE_URL)";
  try {
    const pool = await createDatabasePool(config.database.url, { maxPoolSize: 1, name: "sentinel-doctor" });
    try {
      const role = await describeRole(pool);
      const ok = !role.superuser && !role.ownsSchema;
      return check(
        "postgres_runtime_role",
        ok,
        `${role.user}${role.superuser ? " (superuser)" : ""}${role.ownsSchema ? " (owns the tables)" : ""}`,
        fix,
      );
    } finally {
      await pool.end();
    }
  } catch (error) {
    return check("postgres_runtime_role", false, `could not check: ${(error as Error).message}`, fix);
  }
}

/** Every check, in CHECK_NAMES order, with the waived ones marked ok=false still (the caller decides). */
export async function runChecks(config: Config, logger: Logger): Promise<CheckResult[]> {
  const [kafka, pg] = await Promise.all([kafkaChecks(config, logger), postgresCheck(config)]);
  const all = [...configChecks(config), ...kafka, pg];
  return CHECK_NAMES.map((n) => all.find((c) => c.name === n)!);
}

/** The configuration as `sentinel doctor` prints it: every secret masked. */
export function maskedConfig(config: Config): unknown {
  const sasl = config.kafka.security.sasl;
  return {
    ...config,
    http: {
      ...config.http,
      apiKeys: config.http.apiKeys.map((k) => ({ role: k.role, name: k.name, key: "***" })),
    },
    kafka: {
      ...config.kafka,
      security: { ...config.kafka.security, sasl: sasl ? { ...sasl, password: "***" } : undefined },
      schemaRegistry: {
        ...config.kafka.schemaRegistry,
        userInfo: config.kafka.schemaRegistry.userInfo?.replace(/:.*$/, ":***"),
      },
    },
    database: {
      ...config.database,
      url: redactedUrl(config.database.url),
      migrateUrl: redactedUrl(config.database.migrateUrl),
      runtimePassword: config.database.runtimePassword ? "***" : undefined,
    },
    redis: { ...config.redis, url: redactedUrl(config.redis.url) },
    webhooks: { ...config.webhooks, secretKey: "***" },
  };
}

/** The checklist as lines: `ok`, `FAIL` or `waived`, the name, what was found, and what to change. */
export function renderChecks(results: readonly CheckResult[], waivers: readonly string[]): string[] {
  return results.map((r) => {
    const status = r.ok ? "ok    " : waivers.includes(r.name) ? "waived" : "FAIL  ";
    return `${status}  ${r.name.padEnd(22)} ${r.detail}${r.ok ? "" : `  → ${r.fix}`}`;
  });
}

/**
 * The production gate: with NODE_ENV=production, the failing checks not waived.
 * @returns the lines to print when the start must be refused (empty: go on).
 */
export async function productionRefusal(config: Config, logger: Logger): Promise<string[]> {
  if (config.env !== "production") return [];
  const unknown = config.waivers.filter((w) => !(CHECK_NAMES as readonly string[]).includes(w));
  if (unknown.length > 0)
    return [`DOCTOR_WAIVE names no check: ${unknown.join(", ")} (checks: ${CHECK_NAMES.join(", ")})`];
  const results = await runChecks(config, logger);
  for (const r of results.filter((x) => !x.ok && config.waivers.includes(x.name)))
    logger.warn({ check: r.name, detail: r.detail }, "production check waived (DOCTOR_WAIVE)");
  const failing = results.filter((r) => !r.ok && !config.waivers.includes(r.name));
  return failing.length === 0 ? [] : renderChecks(failing, []);
}

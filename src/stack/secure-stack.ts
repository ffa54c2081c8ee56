import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import type { Config } from "../config.ts";
import { aclTable, applyAcls, type KafkaProcess } from "../kafka/acls.ts";
import { withAdmin } from "../kafka/admin.ts";
import { createKafka } from "../kafka/client.ts";
import { ensureTopics } from "../kafka/topics.ts";
import type { Logger } from "../logger.ts";
import { pollUntil } from "../poll.ts";
import { prepareDatabase } from "../store/database.ts";
import { databaseTls } from "../store/pool.ts";
import { redisReachable, waitForKafka } from "./initialize.ts";
import { ensureJars, runningPid, stopBroker } from "./kafka-broker.ts";
import { KAFKA_USERS, SECURE_KAFKA_PORT, secureBrokerPaths, startSecureBroker } from "./secure-kafka.ts";
import {
  PG_USERS,
  REDIS_USER,
  SECURE_PG_PORT,
  SECURE_REDIS_PORT,
  securePgPid,
  secureRedisPid,
  startSecurePostgres,
  startSecureRedis,
  stopSecurePostgres,
  stopSecureRedis,
} from "./secure-stores.ts";
import { portOpen } from "./stack.ts";
import { ensureTlsMaterial, type SecureFiles, secureFiles } from "./tls-material.ts";

/*
 * `npm run stack:up -- --secure` (issue 34): the pipeline's dependencies as a fintech runs them,
 * on this machine — Kafka over SASL_SSL with ACLs per process, PostgreSQL over TLS with an owner
 * and a runtime role, Redis over TLS with an ACL user — and one environment file per process
 * (<stack dir>/secure/env/<process>.env) whose secrets are files (*_FILE). Idempotent; it runs
 * beside the plain stack (its own ports: Kafka 9094, PostgreSQL 5433, Redis 6380).
 */

export type SecureEnvironments = Record<
  "ingest" | "scorer" | "webhooks" | "operator" | "admin",
  Record<string, string>
>;

const ALL_USERS = [...Object.values(KAFKA_USERS), ...Object.values(PG_USERS), REDIS_USER, "p12"];
const DATABASE = "sentinel";

const kafkaSecurity = (files: SecureFiles, user: string) =>
  ({
    ssl: { caFile: files.caPem },
    sasl: { mechanism: "scram-sha-512", username: user, password: files.password(user) },
  }) as const;

async function waitForPort(port: number, what: string): Promise<void> {
  await pollUntil(() => portOpen("127.0.0.1", port), {
    timeoutMs: 60_000,
    everyMs: 200,
    onTimeout: () => {
      throw new Error(`${what} does not listen on 127.0.0.1:${port} after 60 s`);
    },
  });
}

async function startKafka(
  config: Config,
  logger: Logger,
  dir: string,
  files: SecureFiles,
): Promise<string[]> {
  const brokers = [`127.0.0.1:${SECURE_KAFKA_PORT}`];
  const paths = secureBrokerPaths(dir);
  if (runningPid(paths) === undefined) {
    if (await portOpen("127.0.0.1", SECURE_KAFKA_PORT))
      throw new Error(`127.0.0.1:${SECURE_KAFKA_PORT} is taken by something this stack did not start`);
    ensureJars(paths, (line) => logger.info(line));
    const pid = startSecureBroker(dir, files);
    logger.info({ pid, brokers, logs: paths.logs }, "secured kafka starting (SASL_SSL)");
  }
  const security = kafkaSecurity(files, KAFKA_USERS.admin);
  await waitForKafka(brokers, logger, 120_000, 1, security);
  const kafka = createKafka({ brokers, clientId: "sentinel-secure-stack", logger, security });
  const principals: Partial<Record<KafkaProcess, string>> = {
    ingest: KAFKA_USERS.ingest,
    scorer: KAFKA_USERS.scorer,
    webhooks: KAFKA_USERS.webhooks,
    operator: KAFKA_USERS.operator,
  };
  await withAdmin(kafka, async (admin) => {
    await ensureTopics(admin, config.kafka);
    const n = await applyAcls(admin, aclTable(config), principals);
    logger.info({ acls: n, principals }, "kafka ACLs applied");
  });
  return brokers;
}

function pgUrl(files: SecureFiles, user: string, database: string): string {
  return `postgres://${user}:${files.password(user)}@127.0.0.1:${SECURE_PG_PORT}/${database}?sslmode=verify-full&sslrootcert=${encodeURIComponent(files.caPem)}`;
}

async function startPostgres(config: Config, logger: Logger, files: SecureFiles): Promise<void> {
  if (securePgPid(files) === undefined) {
    if (await portOpen("127.0.0.1", SECURE_PG_PORT))
      throw new Error(`127.0.0.1:${SECURE_PG_PORT} is taken by something this stack did not start`);
    logger.info({ pid: startSecurePostgres(files) }, "TLS-only postgresql starting");
  }
  await waitForPort(SECURE_PG_PORT, "postgresql");
  const { url, ssl } = databaseTls(pgUrl(files, PG_USERS.superuser, "postgres"));
  const client = await pollUntil(
    async () => {
      const c = new pg.Client({ connectionString: url, ssl });
      c.on("error", () => {});
      try {
        await c.connect();
        return c;
      } catch (error) {
        await c.end().catch(() => {});
        throw error;
      }
    },
    {
      timeoutMs: 30_000,
      everyMs: 300,
      onTimeout: (e) => {
        throw new Error(`the TLS postgresql refuses its superuser: ${(e as Error)?.message}`);
      },
    },
  );
  if (!client) throw new Error("unreachable");
  try {
    for (const [role, extra] of [
      [PG_USERS.owner, "CREATEDB"],
      [PG_USERS.runtime, ""],
    ] as const) {
      const exists = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
      const verb = exists.rowCount ? "ALTER" : "CREATE";
      await client.query(`${verb} ROLE ${role} LOGIN ${extra} PASSWORD '${files.password(role)}'`);
    }
    const db = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE]);
    if (!db.rowCount) await client.query(`CREATE DATABASE ${DATABASE} OWNER ${PG_USERS.owner}`);
  } finally {
    await client.end();
  }
  await prepareDatabase(
    {
      ...config,
      database: {
        ...config.database,
        url: pgUrl(files, PG_USERS.runtime, DATABASE),
        migrateUrl: pgUrl(files, PG_USERS.owner, DATABASE),
        runtimeRole: PG_USERS.runtime,
        runtimePassword: undefined,
      },
    },
    logger,
  );
}

async function startRedis(logger: Logger, files: SecureFiles): Promise<void> {
  if (secureRedisPid(files) === undefined) {
    if (await portOpen("127.0.0.1", SECURE_REDIS_PORT))
      throw new Error(`127.0.0.1:${SECURE_REDIS_PORT} is taken by something this stack did not start`);
    logger.info({ pid: startSecureRedis(files) }, "TLS-only redis starting");
  }
  await waitForPort(SECURE_REDIS_PORT, "redis");
  const ok = await pollUntil(() => redisReachable(redisUrl(files), files.caPem), {
    timeoutMs: 20_000,
    everyMs: 200,
  });
  if (!ok) throw new Error("the TLS redis does not answer its ACL user");
}

const redisUrl = (files: SecureFiles) =>
  `rediss://${REDIS_USER}:${files.password(REDIS_USER)}@127.0.0.1:${SECURE_REDIS_PORT}`;

/** The environment of each process: its own Kafka principal; secrets as files. */
export function secureEnvironments(files: SecureFiles): SecureEnvironments {
  const urlFile = join(files.dir, "credentials", "owner.url");
  writeFileSync(urlFile, pgUrl(files, PG_USERS.owner, DATABASE), { mode: 0o600 });
  const common = {
    KAFKA_BROKERS: `127.0.0.1:${SECURE_KAFKA_PORT}`,
    KAFKA_SSL: "true",
    KAFKA_SSL_CA_FILE: files.caPem,
    KAFKA_SASL_MECHANISM: "scram-sha-512",
    DATABASE_URL: `postgres://${PG_USERS.runtime}@127.0.0.1:${SECURE_PG_PORT}/${DATABASE}?sslmode=verify-full&sslrootcert=${encodeURIComponent(files.caPem)}`,
    DATABASE_PASSWORD_FILE: files.passwordFile(PG_USERS.runtime),
    REDIS_URL: `rediss://${REDIS_USER}@127.0.0.1:${SECURE_REDIS_PORT}`,
    REDIS_PASSWORD_FILE: files.passwordFile(REDIS_USER),
    REDIS_TLS_CA_FILE: files.caPem,
  };
  const as = (user: string, extra: Record<string, string> = {}) => ({
    ...common,
    KAFKA_SASL_USERNAME: user,
    KAFKA_SASL_PASSWORD_FILE: files.passwordFile(user),
    ...extra,
  });
  return {
    ingest: as(KAFKA_USERS.ingest),
    scorer: as(KAFKA_USERS.scorer),
    webhooks: as(KAFKA_USERS.webhooks),
    operator: as(KAFKA_USERS.operator, { DATABASE_MIGRATE_URL_FILE: urlFile }),
    admin: as(KAFKA_USERS.admin, { DATABASE_MIGRATE_URL_FILE: urlFile }),
  };
}

/** Brings the secured stack up (idempotent) and writes the processes' environment files. */
export async function secureStackUp(
  config: Config,
  logger: Logger,
  dir = config.stackDir,
): Promise<SecureEnvironments> {
  const files = secureFiles(dir);
  ensureTlsMaterial(files, ALL_USERS);
  await Promise.all([
    startKafka(config, logger, dir, files),
    startPostgres(config, logger, files),
    startRedis(logger, files),
  ]);
  const envs = secureEnvironments(files);
  const envDir = join(files.dir, "env");
  mkdirSync(envDir, { recursive: true, mode: 0o700 });
  for (const [name, env] of Object.entries(envs)) {
    // Quoted for a shell (`set -a; . file`): the database URL carries an `&`.
    const lines = Object.entries(env).map(([k, v]) => `${k}='${v.replaceAll("'", "'\\''")}'`);
    writeFileSync(join(envDir, `${name}.env`), `${lines.join("\n")}\n`, { mode: 0o600 });
  }
  logger.info({ env: envDir }, "secured stack ready: one environment file per process (`set -a; . <file>`)");
  return envs;
}

/** Stops what the secured stack started; nothing else. */
export async function secureStackDown(logger: Logger, dir: string): Promise<void> {
  const files = secureFiles(dir);
  const stopped = await Promise.all([
    stopBroker(secureBrokerPaths(dir)),
    stopSecurePostgres(files),
    stopSecureRedis(files),
  ]);
  if (stopped.some(Boolean)) logger.info("secured stack stopped");
}

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { Redis, type RedisOptions } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { redisOptions } from "../../src/cache/redis-client.ts";
import { withPassword } from "../../src/config-secrets.ts";
import { createKafka } from "../../src/kafka/client.ts";
import { createLogger } from "../../src/logger.ts";
import { databaseTls } from "../../src/store/pool.ts";
import { freePorts } from "../support/ports.ts";
import { type Proc, spawnSentinel, waitForHttp } from "../support/processes.ts";
import { eventually } from "../support/topics.ts";

/*
 * Issue 34, "done means": the pipeline's processes over the secured stack — Kafka SASL_SSL with
 * each process's own principal and ACLs, PostgreSQL over TLS (verify-full) as the runtime role,
 * Redis over TLS with an ACL user — and the refusals: plaintext, a wrong password, a principal
 * using a topic it may not, the runtime role touching the audit trail. Every refusal must come
 * fast and say what is wrong (each bounded by the process's own wait).
 */

const envs = inject("secure");
const logger = createLogger({ log: { level: "fatal", pretty: false } }, "secure-test");
const common = {
  NODE_ENV: "test",
  LOG_LEVEL: "warn",
  METRICS_PORT: "0",
  WEBHOOK_SECRET_KEY: "secure-test-webhook-key-0123456789",
};
const procs: Proc[] = [];

function start(args: string[], env: Record<string, string>): Proc {
  const p = spawnSentinel(args, { ...common, ...env });
  procs.push(p);
  return p;
}

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop("SIGTERM", 15_000)));
});

describe("the pipeline over SASL_SSL, TLS PostgreSQL and TLS Redis, one principal per process", () => {
  let port: number;
  beforeAll(async () => {
    port = await freePorts(1);
    // At info, for the two lines that say each is ready for a sync decision: /readyz answers
    // before the scorer has joined its group and before the ingress hears decisions (CI once
    // answered this test's wait with 202 on a loaded box).
    const info = { LOG_LEVEL: "info" };
    const ingest = start(["ingest"], {
      ...envs.ingest,
      ...info,
      PORT: String(port),
      HOST: "127.0.0.1",
      AUTH_DISABLED: "true",
    });
    const scorer = start(["consume"], { ...envs.scorer, ...info });
    start(["webhooks"], envs.webhooks);
    await waitForHttp(`http://127.0.0.1:${port}/readyz`, 60_000);
    for (const [p, line] of [
      [ingest, "decision listener joined"],
      [scorer, "joined the group"],
    ] as const) {
      expect(await eventually(async () => p.output().includes(line), 60_000), p.output()).toBe(true);
    }
  });

  it("decides a transaction synchronously, each process holding only its own ACLs", async () => {
    const id = randomUUID();
    const res = await fetch(`http://127.0.0.1:${port}/transaction`, {
      method: "POST",
      headers: { "content-type": "application/json", prefer: "wait=10000" },
      body: JSON.stringify({
        transaction_id: id,
        user_id: `secure-${id.slice(0, 8)}`,
        amount: "42.00",
        currency: "USD",
        merchant_id: "m-secure",
        timestamp: new Date().toISOString(),
      }),
    });
    const body = (await res.json()) as { status: string; decision?: { decision: string } };
    expect(res.status).toBe(200);
    expect(body.status).toBe("decided");
    // Stored by the scorer as the runtime role, over TLS.
    const client = await runtimeClient();
    try {
      const row = await client.query("SELECT transaction_id FROM transactions WHERE transaction_id = $1", [
        id,
      ]);
      expect(row.rowCount).toBe(1);
    } finally {
      await client.end();
    }
    for (const p of procs) expect(p.child.exitCode).toBeNull();
  });
});

describe("refusals at start-up: a clear error, never a hang", () => {
  it("a plaintext client", async () => {
    const p = start(["consume"], {
      ...envs.scorer,
      KAFKA_SSL: "false",
      KAFKA_SSL_CA_FILE: "",
      KAFKA_SASL_MECHANISM: "",
      KAFKA_SASL_USERNAME: "",
      KAFKA_SASL_PASSWORD_FILE: "",
    });
    expect(await p.wait(45_000)).toBe(2);
    expect(p.output()).toMatch(/closed the connection or did not answer.*KAFKA_SSL=true/);
  });

  it("a wrong password", async () => {
    const p = start(["consume"], {
      ...envs.scorer,
      KAFKA_SASL_PASSWORD_FILE: "",
      KAFKA_SASL_PASSWORD: "not-the-password",
    });
    expect(await p.wait(45_000)).toBe(2);
    expect(p.output()).toMatch(/refused the credentials of "sentinel_scorer"/);
  });

  it("a principal without rights on the topics a process needs (the webhooks' user running the ingress)", async () => {
    const p = start(["ingest"], {
      ...envs.ingest,
      KAFKA_SASL_USERNAME: envs.webhooks.KAFKA_SASL_USERNAME!,
      KAFKA_SASL_PASSWORD_FILE: envs.webhooks.KAFKA_SASL_PASSWORD_FILE!,
      PORT: "0",
      HOST: "127.0.0.1",
      AUTH_DISABLED: "true",
    });
    expect(await p.wait(45_000)).toBe(2);
    expect(p.output()).toMatch(/sentinel_webhooks.*may not use the topics this process needs/);
  });

  it("the webhooks' principal writing sentinel.events is refused by the broker", async () => {
    const kafka = createKafka({
      brokers: [envs.webhooks.KAFKA_BROKERS!],
      clientId: "secure-test-webhooks",
      logger,
      security: {
        ssl: { caFile: envs.webhooks.KAFKA_SSL_CA_FILE! },
        sasl: {
          mechanism: "scram-sha-512",
          username: envs.webhooks.KAFKA_SASL_USERNAME!,
          password: readFileSync(envs.webhooks.KAFKA_SASL_PASSWORD_FILE!, "utf8"),
        },
      },
    });
    const producer = kafka.producer({ retry: { retries: 0 } });
    await producer.connect();
    try {
      const started = Date.now();
      await expect(
        producer.send({ topic: "sentinel.events", acks: -1, messages: [{ value: "forged" }] }),
      ).rejects.toMatchObject({ type: "TOPIC_AUTHORIZATION_FAILED" });
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await producer.disconnect();
    }
  });
});

async function runtimeClient(env = envs.scorer): Promise<pg.Client> {
  const url = new URL(env.DATABASE_URL!);
  url.password = readFileSync(env.DATABASE_PASSWORD_FILE!, "utf8");
  const { url: dsn, ssl } = databaseTls(url.toString());
  const client = new pg.Client({ connectionString: dsn, ssl });
  await client.connect();
  return client;
}

describe("PostgreSQL: TLS only, the runtime role cannot touch the audit trail", () => {
  it("appends to and reads audit_log, but cannot delete, truncate, or disable its trigger", async () => {
    const client = await runtimeClient();
    try {
      const tls = await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
      expect(tls.rows[0].ssl).toBe(true);
      expect((await client.query("SELECT current_user")).rows[0].current_user).toBe("sentinel_app");
      await client.query("SELECT count(*) FROM audit_log");
      await expect(client.query("DELETE FROM audit_log")).rejects.toThrow(/permission denied/);
      await expect(client.query("UPDATE audit_log SET actor = actor")).rejects.toThrow(/permission denied/);
      await expect(client.query("TRUNCATE audit_log")).rejects.toThrow(/permission denied/);
      await expect(client.query("ALTER TABLE audit_log DISABLE TRIGGER ALL")).rejects.toThrow(
        /must be owner/,
      );
      await expect(client.query("DROP TRIGGER audit_log_no_update ON audit_log")).rejects.toThrow(
        /must be owner/,
      );
    } finally {
      await client.end();
    }
  });

  it("may create a week's partitions through the function, but no table itself, and drop nothing recent", async () => {
    const client = await runtimeClient();
    try {
      await client.query(
        "SELECT sentinel_ensure_partitions(now() + interval '20 weeks', now() + interval '20 weeks')",
      );
      await expect(client.query("CREATE TABLE runtime_made (x int)")).rejects.toThrow(/permission denied/);
      const p = (
        await client.query("SELECT partition FROM storage_partitions ORDER BY upper_bound DESC LIMIT 1")
      ).rows[0].partition;
      await expect(client.query(`DROP TABLE ${p}`)).rejects.toThrow(/must be owner/);
      await expect(client.query("DELETE FROM storage_partitions")).rejects.toThrow(/permission denied/);
      await expect(client.query("SELECT sentinel_drop_partitions(now())")).rejects.toThrow(
        /at least 7 days ago/,
      );
    } finally {
      await client.end();
    }
  });

  it("refuses a connection without TLS", async () => {
    const url = new URL(envs.scorer.DATABASE_URL!);
    url.search = "";
    url.password = readFileSync(envs.scorer.DATABASE_PASSWORD_FILE!, "utf8");
    const client = new pg.Client({ connectionString: url.toString(), ssl: false });
    client.on("error", () => {});
    await expect(client.connect()).rejects.toThrow(/no encryption|rejects connection/);
    await client.end().catch(() => {});
  });
});

describe("Redis: TLS only, with an ACL user", () => {
  const url = envs.scorer.REDIS_URL!;
  const password = readFileSync(envs.scorer.REDIS_PASSWORD_FILE!, "utf8");
  const tls = redisOptions(url, envs.scorer.REDIS_TLS_CA_FILE!);
  // The password goes in the URL, as the service puts it (ioredis lets the URL's empty one win).
  const connect = ({ password: pw, ...options }: RedisOptions) => {
    const r = new Redis(withPassword(url, pw).replace(/^rediss:/, "redis:"), {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 3_000,
      ...options,
    });
    const errors: string[] = [];
    r.on("error", (e: Error) => errors.push(e.message));
    return Object.assign(r, { errors });
  };

  it("answers its user over TLS", async () => {
    const r = connect({ password, ...tls });
    try {
      await r.connect();
      expect(await r.ping()).toBe("PONG");
      expect(await r.call("ACL", "WHOAMI")).toBe("sentinel");
    } finally {
      r.disconnect();
    }
  });

  it("refuses a wrong password, and a client without TLS", async () => {
    const wrong = connect({ password: "wrong-password", ...tls });
    await expect(wrong.connect().then(() => wrong.ping())).rejects.toThrow();
    expect(wrong.errors.join(" ")).toMatch(/WRONGPASS/);
    wrong.disconnect();
    const plain = connect({ password });
    await expect(plain.connect().then(() => plain.ping())).rejects.toThrow();
    plain.disconnect();
  });
});

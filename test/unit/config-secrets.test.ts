import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { aclCommands, aclTable } from "../../src/kafka/acls.ts";
import { explainRefusal } from "../../src/kafka/preflight.ts";
import { configChecks, maskedConfig } from "../../src/ops/doctor.ts";
import { databaseTls } from "../../src/store/pool.ts";

/* Issue 34: secrets from files, Kafka security settings, API key names, the doctor's checks. */

const dir = mkdtempSync(join(tmpdir(), "sentinel-secrets-"));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

describe("*_FILE secrets", () => {
  it("reads each secret from its file, dropping one trailing newline", () => {
    const c = loadConfig({
      API_KEYS_FILE: file("keys", "analyst:ann:0123456789abcdef0123\n"),
      WEBHOOK_SECRET_KEY_FILE: file("wk", "a-webhook-key-of-32-characters!!\n"),
      DATABASE_PASSWORD_FILE: file("dbpw", "s3cret/with:chars\n"),
    });
    expect(c.http.apiKeys).toEqual([{ role: "analyst", name: "ann", key: "0123456789abcdef0123" }]);
    expect(c.webhooks.secretKey).toBe("a-webhook-key-of-32-characters!!");
    expect(c.webhooks.secretKeyIsDevelopment).toBe(false);
    expect(new URL(c.database.url).password).toBe(encodeURIComponent("s3cret/with:chars"));
  });

  it("refuses a variable set both ways, an unreadable file and an empty one, naming each", () => {
    expect(() =>
      loadConfig({
        API_KEYS: "x".repeat(16),
        API_KEYS_FILE: file("k2", "y".repeat(16)),
        WEBHOOK_SECRET_KEY_FILE: join(dir, "missing"),
        KAFKA_SASL_PASSWORD_FILE: file("empty", "\n"),
      }),
    ).toThrow(
      /API_KEYS_FILE: API_KEYS is set as well[\s\S]*WEBHOOK_SECRET_KEY_FILE: cannot read[\s\S]*KAFKA_SASL_PASSWORD_FILE: .* is empty/,
    );
  });
});

describe("API_KEYS", () => {
  it("refuses two entries of one name, and the same key twice", () => {
    expect(() => loadConfig({ API_KEYS: "ingest:0123456789abcdef0123,ingest:abcdef0123456789abcd" })).toThrow(
      /entries 1 and 2 share the name "ingest"/,
    );
    expect(() =>
      loadConfig({ API_KEYS: "analyst:a:0123456789abcdef0123,analyst:b:0123456789abcdef0123" }),
    ).toThrow(/entries 1 and 2 are the same key/);
  });
});

describe("Kafka security settings", () => {
  it("builds TLS and SASL from the variables", () => {
    const ca = file("ca.pem", "-----BEGIN CERTIFICATE-----\n");
    const c = loadConfig({
      KAFKA_SSL: "true",
      KAFKA_SSL_CA_FILE: ca,
      KAFKA_SASL_MECHANISM: "scram-sha-512",
      KAFKA_SASL_USERNAME: "sentinel_scorer",
      KAFKA_SASL_PASSWORD: "pw",
    });
    expect(c.kafka.security).toEqual({
      ssl: { caFile: ca, certFile: undefined, keyFile: undefined, servername: undefined },
      sasl: { mechanism: "scram-sha-512", username: "sentinel_scorer", password: "pw" },
    });
  });

  it("refuses incomplete or contradictory settings", () => {
    expect(() => loadConfig({ KAFKA_SSL_CA_FILE: file("ca2", "x") })).toThrow(
      /KAFKA_SSL: the KAFKA_SSL_\* settings need KAFKA_SSL=true/,
    );
    expect(() => loadConfig({ KAFKA_SASL_MECHANISM: "scram-sha-256" })).toThrow(/SASL needs all three/);
    expect(() =>
      loadConfig({ KAFKA_SASL_MECHANISM: "plain", KAFKA_SASL_USERNAME: "u", KAFKA_SASL_PASSWORD: "p" }),
    ).toThrow(/plain sends the password as it is; it needs KAFKA_SSL=true/);
    expect(() => loadConfig({ KAFKA_SSL: "true", KAFKA_SSL_CERT_FILE: file("c", "x") })).toThrow(
      /needs its key/,
    );
    expect(() => loadConfig({ NODE_ENV: "production", WEBHOOK_ALLOW_PRIVATE: "true" })).toThrow(
      /WEBHOOK_ALLOW_PRIVATE: refused in production/,
    );
  });

  it("explains each refusal with what to change", () => {
    const security = { ssl: false as const, sasl: undefined };
    const ctx = { brokers: ["127.0.0.1:9094"], security };
    expect(
      explainRefusal(
        { name: "KafkaJSSASLAuthenticationError", message: "SASL SCRAM SHA512 authentication failed" },
        {
          ...ctx,
          security: { ssl: false, sasl: { mechanism: "scram-sha-512", username: "u", password: "p" } },
        },
      ),
    ).toMatch(/refused the credentials of "u"/);
    expect(explainRefusal({ type: "TOPIC_AUTHORIZATION_FAILED", message: "x" }, ctx)).toMatch(
      /apply its ACLs/,
    );
    expect(explainRefusal({ message: "self-signed certificate in certificate chain" }, ctx)).toMatch(
      /KAFKA_SSL_CA_FILE/,
    );
    expect(explainRefusal({ message: "Connection closed" }, ctx)).toMatch(/set KAFKA_SSL=true/);
  });
});

describe("ACLs per process", () => {
  it("gives each process only what it uses, as kafka-acls.sh commands", () => {
    const rows = aclTable(loadConfig({}));
    const ops = (process: string, name: string) =>
      rows.filter((r) => r.process === process && r.name === name).flatMap((r) => r.operations);
    expect(ops("webhooks", "sentinel.events")).toEqual(["READ"]);
    expect(ops("webhooks", "transactions")).toEqual([]);
    expect(ops("ingest", "transactions")).toEqual(["WRITE"]);
    expect(ops("scorer", "transactions")).toEqual(["READ"]);
    const lines = aclCommands(rows, { webhooks: "hooks" });
    expect(lines.every((l) => l.includes("User:hooks"))).toBe(true);
    expect(lines.some((l) => l.includes("--operation Write") && l.includes("sentinel.events"))).toBe(false);
  });
});

describe("PostgreSQL TLS parameters", () => {
  it("verify-full checks the chain and the name; the URL keeps none of libpq's TLS parameters", () => {
    const ca = file("pgca.pem", "CA");
    const { url, ssl } = databaseTls(
      `postgres://u:p@db.example:5432/x?sslmode=verify-full&sslrootcert=${ca}&application_name=a`,
    );
    expect(url).toBe("postgres://u:p@db.example:5432/x?application_name=a");
    expect(ssl).toMatchObject({ ca: "CA", rejectUnauthorized: true });
    expect(ssl).not.toHaveProperty("checkServerIdentity");
    expect(databaseTls("postgres://u@h/x?sslmode=verify-ca").ssl).toHaveProperty("checkServerIdentity");
    expect(databaseTls("postgres://u@h/x").ssl).toBeUndefined();
  });
});

describe("sentinel doctor", () => {
  it("fails every production item on the development defaults, and masks every secret", () => {
    const c = loadConfig({ API_KEYS: "admin:root:0123456789abcdef0123" });
    const failing = configChecks(c)
      .filter((r) => !r.ok)
      .map((r) => r.name);
    expect(failing).toEqual([
      "kafka_tls",
      "kafka_sasl",
      "postgres_tls",
      "redis_tls",
      "redis_user",
      "webhook_secret_key",
      "approvals",
    ]);
    expect(
      configChecks(loadConfig({ APPROVALS_REQUIRED: "true" })).find((r) => r.name === "approvals")?.ok,
    ).toBe(true);
    const text = JSON.stringify(maskedConfig(c));
    expect(text).not.toContain("0123456789abcdef0123");
    expect(text).not.toContain("sentinelstream-development-only");
  });
});

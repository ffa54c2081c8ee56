import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import type { SentinelError } from "../../src/errors.ts";

function errorOf(env: Record<string, string>): SentinelError {
  try {
    loadConfig(env);
  } catch (error) {
    return error as SentinelError;
  }
  throw new Error("expected loadConfig to throw");
}

describe("loadConfig", () => {
  it("gives the documented localhost defaults", () => {
    const c = loadConfig({});
    expect(c.kafka.brokers).toEqual(["127.0.0.1:9092"]);
    expect(c.database.url).toBe("postgres://postgres@127.0.0.1:5432/sentinel");
    expect(c.redis.url).toBe("redis://127.0.0.1:6379");
    expect(c.http.port).toBe(8080);
    expect(c.http.apiKeys).toEqual([]);
    expect(c.kafka.schemaRegistryUrl).toBeUndefined();
    expect(c.kafka.topics).toEqual({
      transactions: "transactions",
      decisions: "transactions.decisions",
      dlq: "transactions.dlq",
      labels: "transactions.labels",
      events: "sentinel.events",
    });
  });

  it("is deeply frozen", () => {
    const c = loadConfig({});
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.kafka.brokers)).toBe(true);
    expect(() => {
      (c.http as { port: number }).port = 1;
    }).toThrow();
  });

  it("names every offending variable at once", () => {
    const e = errorOf({ KAFKA_BROKERS: "nohost", PORT: "99999", REDIS_URL: "http://x", API_KEYS: "short" });
    expect(e.code).toBe("config_invalid");
    for (const name of ["KAFKA_BROKERS", "PORT", "REDIS_URL", "API_KEYS"]) expect(e.message).toContain(name);
  });

  it("rejects a non-numeric PORT and a bad FX_RATES entry", () => {
    expect(errorOf({ PORT: "eighty" }).message).toContain("PORT");
    expect(errorOf({ FX_RATES: "EUR=1.1" }).message).toContain("FX_RATES");
  });

  it("parses lists and rates", () => {
    const c = loadConfig({
      KAFKA_BROKERS: "a:1, b:2",
      API_KEYS: "0123456789abcdef,admin:second:fedcba9876543210",
      FX_RATES: "EUR:USD=1.08,GBP:USD=1.27",
    });
    expect(c.kafka.brokers).toEqual(["a:1", "b:2"]);
    expect(c.http.apiKeys).toHaveLength(2);
    expect(c.http.apiKeys.map((k) => k.role)).toEqual(["admin", "admin"]);
    expect(c.rules.fxRates).toEqual({ "EUR:USD": "1.08", "GBP:USD": "1.27" });
  });

  it("reads API keys with roles; a key without one is an admin key (what every key was before roles)", () => {
    const c = loadConfig({
      API_KEYS: "ingest:gateway-key-000001,analyst:analyst-key-00001,plain-key-000000001",
    });
    expect(c.http.apiKeys).toEqual([
      { role: "ingest", name: "ingest", key: "gateway-key-000001" },
      { role: "analyst", name: "analyst", key: "analyst-key-00001" },
      { role: "admin", name: "admin", key: "plain-key-000000001" },
    ]);
    expect(errorOf({ API_KEYS: "analyst:short" }).message).toContain("API_KEYS");
    expect(errorOf({ TOPIC_REPLICATION_FACTOR: "1", TOPIC_MIN_INSYNC_REPLICAS: "2" }).message).toContain(
      "TOPIC_MIN_INSYNC_REPLICAS",
    );
  });

  it("reads a key's name (role:name:key) and refuses an unknown role instead of an admin key (issue 20)", () => {
    const c = loadConfig({ API_KEYS: "analyst:alice:alice-key-0000001,admin:ops.team:key:with:colons01" });
    expect(c.http.apiKeys).toEqual([
      { role: "analyst", name: "alice", key: "alice-key-0000001" },
      { role: "admin", name: "ops.team", key: "key:with:colons01" },
    ]);
    // Before issue 20 a misspelt role made an admin key of the whole entry.
    const misspelt = errorOf({ API_KEYS: "analyts:bob:bob-key-000000001" }).message;
    expect(misspelt).toMatch(/API_KEYS: entry 1 has the unknown role "analyts"/);
    expect(misspelt).not.toContain("bob-key");
    expect(errorOf({ API_KEYS: "analyst:<img>:k-000000000000001" }).message).toMatch(/the name must be/);
  });

  it("refuses a review threshold above the decline threshold", () => {
    expect(errorOf({ RULES_REVIEW_THRESHOLD: "90", RULES_DECLINE_THRESHOLD: "80" }).message).toContain(
      "RULES_REVIEW_THRESHOLD",
    );
  });
});

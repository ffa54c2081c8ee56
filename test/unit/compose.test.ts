import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CHECK_NAMES } from "../../src/ops/doctor.ts";
import { REPO_ROOT } from "../../src/paths.ts";

/*
 * docker-compose.yml (issue 34), read as compose reads it (no Docker engine here to run it): every
 * secret from the environment and required, the registry not published, the services as the
 * runtime role, init as the owner, the production checks waived by name only where this file
 * cannot meet them, and every process of the pipeline present.
 */

type Service = { command?: string[]; environment?: Record<string, string>; ports?: string[] };
const compose = parse(readFileSync(join(REPO_ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as {
  services: Record<string, Service>;
};
const s = compose.services;

describe("docker-compose.yml", () => {
  it("runs ingest, the scorer and the webhooks, after init", () => {
    expect(s.ingest?.command).toEqual(["ingest"]);
    expect(s.consumer?.command).toEqual(["consume"]);
    expect(s.webhooks?.command).toEqual(["webhooks"]);
    expect(s.init?.command).toEqual(["init"]);
  });

  it("takes every secret from the environment, required, and none from the file", () => {
    const env = s.ingest!.environment!;
    for (const name of ["API_KEYS", "WEBHOOK_SECRET_KEY", "DATABASE_PASSWORD"])
      expect(env[name], name).toMatch(/^\$\{[A-Z_]+:\?.+\}$/);
    expect(s.postgres!.environment!.POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
    expect(JSON.stringify(compose)).not.toMatch(/postgres:postgres@/);
  });

  it("runs the services as the runtime role and migrates as the owner", () => {
    expect(new URL(s.ingest!.environment!.DATABASE_URL!).username).toBe("sentinel_app");
    expect(new URL(s.webhooks!.environment!.DATABASE_URL!).username).toBe("sentinel_app");
    expect(s.init!.environment!.DATABASE_MIGRATE_URL).toMatch(/^postgres:\/\/postgres:/);
    expect(s.init!.environment!.DATABASE_RUNTIME_PASSWORD).toMatch(/^\$\{SENTINEL_APP_PASSWORD\}$/);
  });

  it("does not publish the schema registry, and waives only real production checks", () => {
    expect(s["schema-registry"]!.ports).toBeUndefined();
    const waived = s.ingest!.environment!.DOCTOR_WAIVE!.split(",");
    for (const w of waived) expect(CHECK_NAMES).toContain(w);
    expect(waived).not.toContain("api_keys");
    expect(waived).not.toContain("webhook_secret_key");
    expect(waived).not.toContain("postgres_runtime_role");
  });
});

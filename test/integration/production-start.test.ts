import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHECK_NAMES } from "../../src/ops/doctor.ts";
import { createTestContext, type TestContext } from "../support/context.ts";
import { runSentinel } from "../support/processes.ts";

/*
 * Issue 34: `NODE_ENV=production` with the development defaults refuses to start and names every
 * failing item; a waiver lets one through (and is logged); `sentinel doctor` prints the checklist
 * with the secrets masked and exits 1 while an item fails.
 */

let ctx: TestContext;
const KEY = "0123456789abcdef0123";

beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx?.cleanup();
});

describe("a production start", () => {
  it("with the development defaults refuses, naming every failing item, before it connects to anything", async () => {
    const r = await runSentinel(["all"], {
      ...ctx.env,
      NODE_ENV: "production",
      WEBHOOK_SECRET_KEY: "",
      AUTH_DISABLED: "",
      API_KEYS: "",
    });
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/refusing to start in production/);
    for (const name of CHECK_NAMES.filter((n) => n !== "kafka_retention" && n !== "postgres_runtime_role"))
      expect(r.output, name).toMatch(new RegExp(`FAIL +${name} `));
    expect(r.output).toMatch(/WEBHOOK_SECRET_KEY: required wherever webhooks run/);
  });

  it("refuses a waiver that names no check", async () => {
    const r = await runSentinel(["consume"], {
      ...ctx.env,
      NODE_ENV: "production",
      DOCTOR_WAIVE: "kafka_tsl",
    });
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/DOCTOR_WAIVE names no check: kafka_tsl/);
  });
});

describe("sentinel doctor", () => {
  it("prints the effective configuration with its secrets masked, and the checklist; exit 1 while an item fails", async () => {
    const r = await runSentinel(["doctor"], {
      ...ctx.env,
      API_KEYS: `admin:ops:${KEY}`,
      WEBHOOK_SECRET_KEY: "a-webhook-key-0123456789",
    });
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain(KEY);
    expect(r.stdout).not.toContain("a-webhook-key-0123456789");
    expect(r.stdout).toMatch(/^ok +webhook_secret_key/m);
    expect(r.stdout).toMatch(/^FAIL +kafka_tls +plaintext +→ set KAFKA_SSL=true/m);
    // The sandbox's topics carry their own retention (init set it).
    expect(r.stdout).toMatch(/^ok +kafka_retention/m);
  });
});

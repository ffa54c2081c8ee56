import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const BIN = join(import.meta.dirname, "../../../bin/sentinel.ts");

/* `npm start` with a bad variable stops at once, naming it (before touching any service). */
describe("sentinel with bad configuration", () => {
  it.each([
    ["KAFKA_BROKERS", "not a broker list"],
    ["PORT", "eighty"],
    ["DATABASE_URL", "mysql://nope"],
  ])(
    "exits 2 naming %s",
    (name, value) => {
      const r = spawnSync(process.execPath, [BIN, "all"], {
        env: { ...process.env, [name]: value },
        encoding: "utf8",
        timeout: 20_000,
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(name);
      expect(r.stderr).toContain("invalid configuration");
    },
    25_000,
  ); // a process start under a loaded test run can pass vitest's 5 s default (seen once)
});

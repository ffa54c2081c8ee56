import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.ts";
import { createLogger } from "../../../src/logger.ts";
import { createRulesSource } from "../../../src/rules/active-rules.ts";
import { defaultRuleSet } from "../../../src/rules/default-rule-set.ts";
import { ruleSetVersion } from "../../../src/rules/rule-language.ts";

/*
 * Issue 20: a consumer that starts while PostgreSQL is down does not score with the built-in set
 * and empty lists; it waits until the active set and the lists are loaded. The store here is a
 * stand-in that fails like an unreachable PostgreSQL, then answers.
 */

const config = loadConfig({ LOG_LEVEL: "silent" });
const fallback = defaultRuleSet(config.rules);
const active = { ...fallback, description: "the operator's set" };

describe("the active rules at start-up", () => {
  it("waits until PostgreSQL answers, then scores with the active set and lists, never the built-in one", async () => {
    let calls = 0;
    const store = {
      async stamp() {
        calls++;
        if (calls <= 3) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
        return { version: "rs-operator0001", lists: 1, shadow: null };
      },
      active: async () => ({ version: "rs-operator0001", document: active }),
      allLists: async () => new Map([["blocked_devices", new Map([["dev-1", Number.POSITIVE_INFINITY]])]]),
      get: async () => null,
    };
    const source = createRulesSource({
      store,
      fallback,
      fxRates: {},
      refreshMs: 60_000,
      logger: createLogger(config),
    });
    await source.start();
    expect(calls).toBe(4);
    expect(source.current.version).toBe("rs-operator0001");
    expect(source.current.version).not.toBe(ruleSetVersion(fallback));
    expect(source.current.context.lists.get("blocked_devices")?.has("dev-1")).toBe(true);
    source.stop();
  });

  it("gives up waiting when stopped", async () => {
    const down = async () => {
      throw new Error("connect ECONNREFUSED");
    };
    const source = createRulesSource({
      store: { stamp: down, active: down, allLists: down, get: down },
      fallback,
      fxRates: {},
      logger: createLogger(config),
    });
    const started = source.start();
    source.stop();
    await expect(started).rejects.toThrow(/stopped before the rules were loaded/);
  });
});

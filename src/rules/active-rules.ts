import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../logger.ts";
import { backoffMs } from "../poll.ts";
import { type RuleSet, ruleSetVersion, validateRuleSet } from "./rule-language.ts";
import type { RulesStore } from "./rules-store.ts";
import { type ScoringRules, scoringRules } from "./scoring-rules.ts";

/*
 * The rules a consumer scores with, kept current without a restart: every `refreshMs` one small
 * query asks PostgreSQL for the active version and the lists' change counter; when either moved,
 * the active rule set and the lists are loaded and swapped in. A round reads `current` once when it
 * starts, so a switch happens at a round boundary and a decision keeps the version that made it.
 * Before any version was activated, the default rule set (from RULES_*) is the active one.
 *
 * A consumer never scores before the active set and the lists are loaded: start() retries until
 * they are (PostgreSQL down at start-up is an outage to wait out, not a reason to decide with the
 * built-in set and empty lists — issue 20).
 */

export type RulesSource = {
  readonly current: ScoringRules;
  /** The shadow rule set (`sentinel rules shadow <version>`), deciding beside the live one; or undefined. */
  readonly shadow: ScoringRules | undefined;
  /**
   * Loads the active rules, retrying with backoff until PostgreSQL answers (or stop() is called),
   * then refreshes in the background.
   * @throws Error when stopped before the rules were ever loaded.
   */
  start(): Promise<void>;
  stop(): void;
};

export function createRulesSource({
  store,
  fallback,
  fxRates,
  refreshMs = 2_000,
  logger,
}: {
  store: Pick<RulesStore, "stamp" | "active" | "allLists" | "get">;
  fallback: RuleSet;
  fxRates: Readonly<Record<string, string>>;
  refreshMs?: number;
  logger: Logger;
}): RulesSource {
  let current = scoringRules(fallback, fxRates);
  let shadow: ScoringRules | undefined;
  let seen: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let refreshing = false;
  let stopped = false;

  /** True once the active set and the lists are loaded (now or earlier). */
  async function refresh(): Promise<boolean> {
    if (refreshing) return false;
    refreshing = true;
    try {
      const stamp = await store.stamp();
      const key = `${stamp.version ?? "(default)"}|${stamp.lists}|${stamp.shadow ?? ""}`;
      if (key === seen) return true;
      const [active, lists, shadowDoc] = await Promise.all([
        stamp.version ? store.active() : null,
        store.allLists(),
        stamp.shadow ? store.get(stamp.shadow) : null,
      ]);
      const shadowValid = shadowDoc === null ? undefined : validateRuleSet(shadowDoc);
      shadow =
        shadowValid?.ok && stamp.shadow
          ? scoringRules(shadowValid.ruleSet, fxRates, lists, stamp.shadow)
          : undefined;
      let ruleSet = fallback;
      let version = ruleSetVersion(fallback);
      if (active) {
        const valid = validateRuleSet(active.document);
        if (!valid.ok) {
          logger.error(
            { version: active.version, issues: valid.issues },
            "active rule set is invalid; keeping the current one",
          );
          seen = key;
          return true;
        }
        ruleSet = valid.ruleSet;
        version = active.version;
      }
      const previous = current.version;
      current = scoringRules(ruleSet, fxRates, lists, version);
      if (seen !== undefined && previous !== version)
        logger.info({ from: previous, to: version }, "rule set switched");
      seen = key;
      return true;
    } catch (error) {
      logger.warn({ err: (error as Error).message }, "could not refresh the rules; keeping the current ones");
      return false;
    } finally {
      refreshing = false;
    }
  }

  return {
    get current() {
      return current;
    },
    get shadow() {
      return shadow;
    },
    async start() {
      for (let attempt = 1; !(await refresh()); attempt++) {
        if (stopped) throw new Error("stopped before the rules were loaded");
        const wait = backoffMs(attempt, { baseMs: 250, maxMs: 5_000 });
        logger.warn({ attempt, retryInMs: wait }, "rules not loaded yet: not scoring until they are");
        await sleep(wait);
      }
      timer = setInterval(() => void refresh(), refreshMs);
      timer.unref();
    },
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

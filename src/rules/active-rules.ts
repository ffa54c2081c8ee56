import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../logger.ts";
import type { DriftReporter } from "../model/drift-reporter.ts";
import { type ModelDocument, type ScoringModel, scoringModel, validateModel } from "../model/model.ts";
import type { ModelStore } from "../model/model-store.ts";
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
 * The active model (issue 24) and a shadow model are polled the same way: `model.score` reads the
 * active one; a shadow model decides beside the live decisions with the live rule set, stored
 * under `<rule set>+<model>`.
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

/** A model whose scores (a sample of them) are counted by its drift monitor, when it has a reference. */
function watched(model: ScoringModel, doc: ModelDocument, drift: DriftReporter | undefined): ScoringModel {
  const reference = doc.training.reference;
  if (!drift || !reference) return model;
  const monitor = drift.monitor(model.version, reference);
  return {
    ...model,
    score(x) {
      const p = model.score(x);
      monitor.observe(x, p);
      return p;
    },
  };
}

/** Loads a model version, compiled once per version (a model's document is large). */
function modelLoader(
  models: Pick<ModelStore, "get"> | undefined,
  logger: Logger,
  onInvalid: (kind: "model") => void,
  drift: DriftReporter | undefined,
) {
  const compiled = new Map<string, ScoringModel | null>();
  return async (version: string | null): Promise<ScoringModel | undefined> => {
    if (!version || !models) return undefined;
    if (!compiled.has(version)) {
      const valid = validateModel(await models.get(version));
      let model: ScoringModel | null = null;
      try {
        if (valid.ok) model = watched(scoringModel(valid.model, version), valid.model, drift);
        else logger.error({ version, issues: valid.issues }, "stored model is invalid; not used");
      } catch (error) {
        logger.error({ version, err: (error as Error).message }, "stored model cannot be loaded; not used");
      }
      if (!model) onInvalid("model"); // never a crash: the rules decide alone (issue 35)
      if (compiled.size >= 4) compiled.clear(); // the active and the shadow model are what is needed
      compiled.set(version, model);
    }
    return compiled.get(version) ?? undefined;
  };
}

/** The rule set to score with: the active one, or the fallback before any activation; null when the active one is invalid. */
function liveSetOf(fallback: RuleSet, logger: Logger, onInvalid?: (kind: "rule_set" | "model") => void) {
  return (active: { version: string; document: unknown } | null) => {
    if (!active) return { ruleSet: fallback, version: ruleSetVersion(fallback) };
    const valid = validateRuleSet(active.document);
    if (valid.ok) return { ruleSet: valid.ruleSet, version: active.version };
    logger.error(
      { version: active.version, issues: valid.issues },
      "active rule set is invalid; keeping the current one",
    );
    onInvalid?.("rule_set");
    return null;
  };
}

export function createRulesSource({
  store,
  models,
  fallback,
  fxRates,
  refreshMs = 2_000,
  logger,
  onInvalid,
  drift,
}: {
  store: Pick<RulesStore, "stamp" | "active" | "allLists" | "get"> &
    Partial<Pick<RulesStore, "activeSnoozes">>;
  /** Where models are (none: no model is ever active). */
  models?: Pick<ModelStore, "stamp" | "get">;
  fallback: RuleSet;
  fxRates: Readonly<Record<string, string>>;
  refreshMs?: number;
  logger: Logger;
  /** A stored rule set or model that failed validation (counted in a metric). */
  onInvalid?: (kind: "rule_set" | "model") => void;
  /** Where the models' drift is measured (issue 36); absent, it is not. */
  drift?: DriftReporter;
}): RulesSource {
  let current = scoringRules(fallback, fxRates);
  let shadow: ScoringRules | undefined;
  let seen: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let refreshing = false;
  let stopped = false;

  const loadModel = modelLoader(models, logger, (kind) => onInvalid?.(kind), drift);

  const liveSet = liveSetOf(fallback, logger, onInvalid);

  /** True once the active set and the lists are loaded (now or earlier). */
  async function refresh(): Promise<boolean> {
    if (refreshing) return false;
    refreshing = true;
    try {
      const [stamp, modelStamp] = await Promise.all([
        store.stamp(),
        models ? models.stamp() : { active: null, shadow: null },
      ]);
      const key = `${stamp.version ?? "(default)"}|${stamp.lists}|${stamp.shadow ?? ""}|${modelStamp.active ?? ""}|${modelStamp.shadow ?? ""}`;
      if (key === seen) return true;
      // Snoozes share the lists' change counter (snooze-store.ts).
      const [active, lists, shadowDoc, snoozes] = await Promise.all([
        stamp.version ? store.active() : null,
        store.allLists(),
        stamp.shadow ? store.get(stamp.shadow) : null,
        store.activeSnoozes ? store.activeSnoozes() : undefined,
      ]);
      const live = liveSet(active);
      if (!live) {
        seen = key; // not asked again until something changes
        return true;
      }
      const shadowModel = await loadModel(modelStamp.shadow);
      const model = await loadModel(modelStamp.active);
      const shadowValid = shadowDoc === null ? undefined : validateRuleSet(shadowDoc);
      if (shadowValid?.ok && stamp.shadow) {
        const v = shadowModel ? `${stamp.shadow}+${shadowModel.version}` : stamp.shadow;
        shadow = scoringRules(shadowValid.ruleSet, fxRates, lists, v, shadowModel ?? model, snoozes);
      } else if (shadowModel) {
        shadow = scoringRules(
          live.ruleSet,
          fxRates,
          lists,
          `${live.version}+${shadowModel.version}`,
          shadowModel,
          snoozes,
        );
      } else shadow = undefined;
      const previous = current;
      current = scoringRules(live.ruleSet, fxRates, lists, live.version, model, snoozes);
      if (seen !== undefined && previous.version !== live.version)
        logger.info({ from: previous.version, to: live.version }, "rule set switched");
      if (model && !current.model)
        logger.warn(
          { model: model.version, rules: live.version },
          "a model is active but the active rule set does not read model.score",
        );
      if (seen !== undefined && previous.model?.version !== current.model?.version)
        logger.info(
          { from: previous.model?.version ?? null, to: current.model?.version ?? null },
          "model switched",
        );
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

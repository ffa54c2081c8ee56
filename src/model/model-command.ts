import { cliActor } from "../audit/audit-command.ts";
import type { Config } from "../config.ts";
import { SentinelError } from "../errors.ts";
import { submitFromCli } from "../governance/changes-command.ts";
import type { Logger } from "../logger.ts";
import { readLabelsCsv } from "../ops/backtest.ts";
import { newTable, out, toJson } from "../ops/output.ts";
import { printMoves } from "../rules/rules-command.ts";
import { withPool } from "../store/pool.ts";
import { instant, type ModelCliOptions, vocabularyOf } from "./cli-options.ts";
import { validateModel } from "./model.ts";
import { createModelStore } from "./model-store.ts";
import { trainFromCli } from "./train-cli.ts";

/*
 * `sentinel model train|list|show|activate|shadow|compare|rollback` (issue 24). Training saves a
 * version and leaves it inactive: activating is a separate, audited step, as for rule sets.
 */

export type { ModelCliOptions };

export type ModelAction =
  | "train"
  | "list"
  | "show"
  | "activate"
  | "shadow"
  | "compare"
  | "rollback"
  | "thresholds"
  | "retrain";

async function train(config: Config, logger: Logger, opts: ModelCliOptions): Promise<void> {
  const fromMs = instant("from", opts.from);
  const toMs = instant("to", opts.to);
  if (toMs <= fromMs) throw new SentinelError("validation_failed", "--to must be after --from");
  const labels = opts.labels ? await readLabelsCsv(opts.labels, vocabularyOf(opts)) : undefined;
  const holdout = Number(opts.holdout ?? "0.2");
  if (!(holdout >= 0 && holdout <= 0.5))
    throw new SentinelError("validation_failed", "--holdout must be a fraction of the range from 0 to 0.5");
  await withPool(config, async (pool) => {
    const trained = await trainFromCli(pool, logger, config.rules.fxRates, {
      fromMs,
      toMs,
      ...(labels ? { labels } : {}),
      holdout,
      opts,
    });
    const store = createModelStore({ pool });
    const created = await store.save(trained.version, trained.document, trained.summary, cliActor(config));
    const activated =
      !!opts.activate &&
      (await submitFromCli(config, pool, "model.activate", { version: trained.version })) !== null;
    // The process's peak resident memory (resourceUsage reports KiB): what training took.
    const peakRssMib = Math.round(process.resourceUsage().maxRSS / 1024);
    if (opts.json)
      return out(
        toJson({
          version: trained.version,
          created,
          activated,
          ...trained.summary,
          peakRssMib,
        }),
      );
    const s = trained.summary;
    out(`${created ? "trained" : "already stored"}: ${trained.version}${activated ? " (active)" : ""}`);
    out(
      `  ${s.rows} labelled transactions (${s.fraud} fraud) of ${s.users} users; training AUC ${s.trainingAuc ?? "—"}; ${s.seconds} s (features ${s.featureSeconds} s), peak RSS ${peakRssMib} MiB`,
    );
    const h = s.holdout;
    if (h) {
      out(
        `  held out (not trained on) ${h.from} – ${h.to}: ${h.rows} transactions (${h.fraud} fraud), AUC ${h.auc ?? "—"}, PR-AUC ${h.prAuc ?? "—"}; recall ${h.atReviews.map((a) => `${a.recall} at ${a.reviewPer1000}`).join(", ")} reviews per 1,000 (sentinel model thresholds ${trained.version})`,
      );
      const o = h.operating;
      if (o)
        out(
          `  its own levels (the default rules use them: RULES_MODEL_OWN_THRESHOLDS): review from model.score ${o.review} (${o.flagPer1000} per 1,000 held out), decline from ${o.decline} (${o.declinePer1000} per 1,000)`,
        );
    } else
      out(
        "  nothing held out (--holdout 0): the training AUC is in-sample, not a measure of what it catches",
      );
    if (!activated) out(`  activate it: sentinel model activate ${trained.version}`);
  });
}

/** `model list`: versions with their held-out AUC, active/shadow, and their latest drift (issue 36). */
async function listModels(store: ReturnType<typeof createModelStore>, opts: ModelCliOptions): Promise<void> {
  const [list, drift] = await Promise.all([store.list(), store.drift()]);
  const models = list.map((m) => ({ ...m, drift: drift.get(m.version) ?? null }));
  if (opts.json) return out(toJson(models));
  const head = ["version", "trained", "rows", "fraud", "held-out AUC", "active", "shadow", "drift (PSI)"];
  const table = newTable(head);
  for (const m of models) {
    const s = m.summary as { rows?: number; fraud?: number; holdout?: { auc: number | null } };
    const d = m.drift;
    table.push([
      m.version,
      m.trained_at,
      s.rows ?? "",
      s.fraud ?? "",
      s.holdout?.auc ?? "—",
      m.active ? "yes" : "",
      m.shadow ? "yes" : "",
      d ? `${d.drifted ? "DRIFTED " : ""}score ${d.score_psi}, ${d.worst_feature} ${d.worst_psi}` : "—",
    ]);
  }
  out(table.toString());
  if (!models.some((m) => m.active)) out("no model active: model.score is null, the rules decide alone");
  return;
}

export async function modelCommand(
  config: Config,
  logger: Logger,
  action: ModelAction,
  args: string[],
  opts: ModelCliOptions,
): Promise<void> {
  if (action === "train") return train(config, logger, opts);
  if (action === "retrain")
    return (await import("./retrain-command.ts")).retrainCommand(config, logger, opts);
  if (action === "thresholds")
    return (await import("./thresholds-command.ts")).thresholdsCommand(config, args[0]!, opts);
  await withPool(config, async (pool) => {
    const store = createModelStore({ pool });
    switch (action) {
      case "list":
        return listModels(store, opts);
      case "show": {
        const doc = await store.get(args[0]!);
        if (doc === null) throw new SentinelError("not_found", `no model version ${args[0]}`);
        const valid = validateModel(doc);
        if (!valid.ok) throw new SentinelError("internal", `stored model ${args[0]} is invalid`);
        const info = await store.info(args[0]!);
        const { trees, ...rest } = valid.model;
        if (opts.json) return out(toJson({ version: args[0], ...info, document: valid.model }));
        return out(
          JSON.stringify(
            { version: args[0], active: info?.active, shadow: info?.shadow, trees: trees.length, ...rest },
            null,
            2,
          ),
        );
      }
      case "activate": {
        if (await submitFromCli(config, pool, "model.activate", { version: args[0]! }))
          out(`active model: ${args[0]} (running consumers switch within seconds)`);
        return;
      }
      case "rollback": {
        const r = await submitFromCli(config, pool, "model.rollback", {});
        if (!r) return;
        return out(
          `rolled back ${r.rolled_back}: ${r.active ? `active model: ${r.active}` : "no model active"}`,
        );
      }
      case "shadow": {
        const version = opts.off ? null : (args[0] ?? null);
        if (!opts.off && !version)
          throw new SentinelError("validation_failed", "name a model version to shadow, or --off");
        if (!(await submitFromCli(config, pool, "model.shadow", { version }))) return;
        return out(
          version
            ? `shadowing model ${version}: new transactions are also decided with it (stored as <rule set>+${version}, not published)`
            : "model shadow off",
        );
      }
      case "compare": {
        const c = await store.compareShadow();
        if (opts.json) return out(toJson(c));
        if (!c.version) return out("no model shadow running (sentinel model shadow <version>)");
        out(
          `model shadow ${c.version}: ${c.compared} transactions decided both ways, ${c.moves.reduce((n, m) => n + m.count, 0)} moved`,
        );
        printMoves(c.moves);
        return;
      }
    }
  });
}

import type { Command } from "commander";
import { DEFAULT_TRAIN } from "../model/gbdt.ts";
import type { ModelAction, ModelCliOptions } from "../model/model-command.ts";
import { collect, positiveInt, withArgs } from "./actions.ts";

/** The learned model: train, versions, activation, shadow (issue 24; docs/detection.md). */
export function addModelCommands(program: Command): void {
  const model = program
    .command("model")
    .description("the learned fraud score (model.score): train, list, activate, shadow, roll back");
  const act = (action: ModelAction) =>
    withArgs<ModelCliOptions>(async (c, l, positional, opts) =>
      (await import("../model/model-command.ts")).modelCommand(c, l, action, positional, opts),
    );
  model
    .command("train")
    .description("train on the labelled transactions received in [--from, --to); saved, not activated")
    .requiredOption("--from <time>", "RFC 3339 with a zone")
    .requiredOption("--to <time>", "RFC 3339 with a zone")
    .option(
      "--labels <file.csv>",
      "transaction_id,label (fraud|legitimate), or `sentinel simulate --truth`; wins over analysts' labels",
    )
    .option("--trees <n>", `number of trees (default ${DEFAULT_TRAIN.trees})`, positiveInt)
    .option("--depth <n>", `tree depth (default ${DEFAULT_TRAIN.depth})`, positiveInt)
    .option(
      "--holdout <fraction>",
      "the tail of the range held out of training and evaluated on (default 0.2; 0: none)",
    )
    .option("--fraud-labels <words>", "label words of the CSV that mean fraud (comma-separated)", collect)
    .option(
      "--legitimate-labels <words>",
      "label words of the CSV that mean legitimate (comma-separated)",
      collect,
    )
    .option("--activate", "activate it once trained")
    .option("--json")
    .action(act("train"));
  model
    .command("list")
    .description("trained versions, the active and the shadow one marked")
    .option("--json")
    .action(act("list"));
  model
    .command("show <version>")
    .description("a version: features, training range and figures")
    .option("--json")
    .action(act("show"));
  model
    .command("activate <version>")
    .description("make a version the active model (consumers switch within seconds)")
    .action(act("activate"));
  model
    .command("shadow [version]")
    .description(
      "decide every new transaction with this model too, stored beside the live decision, not published",
    )
    .option("--off", "stop shadowing")
    .action(act("shadow"));
  model
    .command("compare")
    .description("the shadow model's moves against the live decisions")
    .option("--json")
    .action(act("compare"));
  addEvaluationCommands(model, act);
  model
    .command("rollback")
    .description("undo the latest activation (the model before it, or none)")
    .action(act("rollback"));
}

/** `model thresholds` and `model retrain`: figures on held-out data, and a retrain that must do better (issue 36). */
function addEvaluationCommands(
  model: Command,
  act: (action: ModelAction) => (...args: unknown[]) => Promise<void>,
): void {
  model
    .command("thresholds <version>")
    .description(
      "on labelled transactions it was not trained on (its held-out tail, or --from/--to): the model.score threshold that meets each review budget or false-positive rate, and its recall",
    )
    .option("--review-per-1000 <n>", "a review budget: flagged per 1,000 transactions (repeatable)", collect)
    .option("--fpr <x>", "a false-positive rate, as a fraction (0.001 = 0.1 %; repeatable)", collect)
    .option("--from <time>", "RFC 3339 with a zone (default: the model's held-out tail)")
    .option("--to <time>", "RFC 3339 with a zone")
    .option("--labels <file.csv>", "transaction_id,label over the analysts' labels")
    .option("--fraud-labels <words>", "label words of the CSV that mean fraud", collect)
    .option("--legitimate-labels <words>", "label words of the CSV that mean legitimate", collect)
    .option("--json")
    .action(act("thresholds"));
  model
    .command("retrain")
    .description(
      "train on the last N days of labels, compare with the active model on the same held-out days, activate (or propose) only if it catches more at the review budget",
    )
    .requiredOption("--days <n>", "the last N days of labels (2–366)")
    .option("--review-per-1000 <n>", "the review budget the two are compared at (default 2)", collect)
    .option("--labels <file.csv>", "transaction_id,label over the analysts' labels")
    .option("--fraud-labels <words>", "label words of the CSV that mean fraud", collect)
    .option("--legitimate-labels <words>", "label words of the CSV that mean legitimate", collect)
    .option("--trees <n>", "number of trees", positiveInt)
    .option("--depth <n>", "tree depth", positiveInt)
    .action(act("retrain"));
}

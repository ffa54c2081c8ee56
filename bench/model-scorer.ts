import pg from "pg";
import { preparedSandbox, runScorer } from "./consumer.ts";
import { benchServices, log } from "./lib/services.ts";
import { benchModelDocument } from "./rules.ts";

/*
 * `npm run bench:model-scorer [-- --quick]` (issue 24): the hot path with a model active, side by
 * side with the same stream without one — `sentinel consume` over the same preloaded transactions
 * in two sandboxes, the second with a model (the rules bench's, default size) activated before the
 * consumer starts, so every transaction computes its features and the forest.
 *
 * Both runs set the default set's model thresholds to 1 (RULES_MODEL_REVIEW/DECLINE): the model is
 * computed for every transaction (its rules read model.score) but flags none, so the decision mix —
 * and the cases and writes that follow from it — is the same in both, and the difference is the
 * model's cost. (A model trained on the simulator's population flags about half of this bench's
 * random stream: with the default thresholds it measured 5,447 → 3,299 tx/s, mostly from the
 * reviews and their cases.)
 */

async function scorerRun(users: number, transactions: number, withModel: boolean) {
  const sandbox = await preparedSandbox(await benchServices(), users, transactions, {
    RULES_MODEL_REVIEW: "1",
    RULES_MODEL_DECLINE: "1",
  });
  const db = new pg.Client({ connectionString: sandbox.config.database.url });
  await db.connect();
  try {
    if (withModel) {
      const { version, document } = benchModelDocument();
      await db.query(
        "INSERT INTO artefacts (kind, version, document, summary) VALUES ('model', $1, $2, '{}')",
        [version, document],
      );
      await db.query(
        "INSERT INTO artefact_activations (kind, version, activated_by) VALUES ('model', $1, 'bench')",
        [version],
      );
      log(`model ${version} active`);
    }
    const { scorer, proc } = await runScorer(sandbox, db, transactions);
    await proc.stop();
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM decisions WHERE live AND EXISTS (SELECT 1 FROM unnest(reasons) r WHERE r LIKE 'model %')",
    );
    const { rows: computed } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM artefacts WHERE kind = 'model'",
    );
    return { ...scorer, modelReasons: rows[0]!.n, models: computed[0]!.n };
  } finally {
    await db.end();
    await sandbox.cleanup();
  }
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const users = quick ? 10_000 : 100_000;
  const transactions = quick ? 20_000 : 200_000;
  const without = await scorerRun(users, transactions, false);
  const withModel = await scorerRun(users, transactions, true);
  log(
    `scorer without a model ${Math.round(without.txPerSec)} tx/s (peak RSS ${without.peakRssMiB} MiB); with a model ${Math.round(withModel.txPerSec)} tx/s (peak RSS ${withModel.peakRssMiB} MiB), ${withModel.modelReasons} decisions with a model reason`,
  );
  console.log(`scorer_tx_per_sec_without_model=${Math.round(without.txPerSec)}`);
  console.log(`scorer_tx_per_sec_with_model=${Math.round(withModel.txPerSec)}`);
  console.log(`ratio_scorer_with_over_without_model=${(withModel.txPerSec / without.txPerSec).toFixed(3)}`);
  console.log(`scorer_peak_rss_mib_with_model=${withModel.peakRssMiB} (target <= 256)`);
}

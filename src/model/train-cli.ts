import type { Label } from "../domain/case.ts";
import { SentinelError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { labelsDigest } from "../ops/backtest.ts";
import type { DatabasePool } from "../store/pool.ts";
import type { ModelCliOptions } from "./cli-options.ts";
import { type Trained, trainModel } from "./train.ts";

/** Trains as `model train` and `model retrain` do: progress logged, a range without both labels refused. */
export async function trainFromCli(
  pool: DatabasePool,
  logger: Logger,
  fxRates: Readonly<Record<string, string>>,
  run: {
    fromMs: number;
    toMs: number;
    labels?: ReadonlyMap<string, Label>;
    holdout: number;
    opts: ModelCliOptions;
  },
): Promise<Trained> {
  const { labels, opts } = run;
  const rssMib = () => Math.round(process.memoryUsage().rss / 2 ** 20);
  try {
    return await trainModel({
      pool,
      fromMs: run.fromMs,
      toMs: run.toMs,
      fxRates,
      ...(labels ? { labels } : {}),
      // What was trained on, never where it came from: the same labels give the same version.
      labelsName: labels ? `analyst labels + ${labelsDigest(labels)}` : "analyst labels",
      holdout: run.holdout,
      options: { ...(opts.trees ? { trees: opts.trees } : {}), ...(opts.depth ? { depth: opts.depth } : {}) },
      onProgress: (rows) => logger.info({ rows, rssMib: rssMib() }, "features computed"),
      onTree: (done, total) => {
        if (done % 20 === 0 || done === total)
          logger.info({ done, total, rssMib: rssMib() }, "trees trained");
      },
    });
  } catch (error) {
    if (error instanceof RangeError) throw new SentinelError("validation_failed", error.message);
    throw error;
  }
}

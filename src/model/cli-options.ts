import { SentinelError } from "../errors.ts";

/* What the `sentinel model …` commands take (model-command.ts, thresholds-command.ts). */

export type ModelCliOptions = {
  json?: boolean;
  off?: boolean;
  from?: string;
  to?: string;
  labels?: string;
  trees?: number;
  depth?: number;
  activate?: boolean;
  /** The fraction of the range's time held out of training, its tail (default 0.2; 0: none). */
  holdout?: string;
  fraudLabels?: string[];
  legitimateLabels?: string[];
  reviewPer1000?: string[];
  fpr?: string[];
  /** retrain: the last N days of labels. */
  days?: string;
};

/** The label words of a label file beyond the ones always understood (issue 36). */
export const vocabularyOf = (opts: ModelCliOptions) => ({
  fraud: opts.fraudLabels,
  legitimate: opts.legitimateLabels,
});

/** An RFC 3339 time with a zone (as replay takes), in ms. */
export function instant(name: string, text: string | undefined): number {
  const ms = text === undefined ? Number.NaN : Date.parse(text);
  if (
    !text ||
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(text) ||
    !Number.isFinite(ms)
  )
    throw new SentinelError(
      "validation_failed",
      `--${name} must be an RFC 3339 time with a zone, such as 2026-11-01T00:00:00Z`,
    );
  return ms;
}

import { readFile } from "node:fs/promises";
import type { Label } from "../domain/case.ts";
import type { DecisionOutcome } from "../domain/decision.ts";
import { SentinelError } from "../errors.ts";

/*
 * The backtest's verdict (issue 13): over the re-decided transactions that carry a label, how
 * precise and how complete each rule set's flags (review or decline) are. Labels come from the
 * labels table (latest per transaction) and, optionally, a CSV of transaction_id,label that wins.
 */

export type Quality = {
  flagged: number;
  truePositives: number;
  precision: number | null;
  recall: number | null;
};
export type Backtest = { labelled: number; fraud: number; live: Quality; candidate: Quality };

const flagged = (d: DecisionOutcome) => d !== "approve";

function quality(pairs: ReadonlyArray<[DecisionOutcome, Label]>): Quality {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const [d, label] of pairs) {
    if (flagged(d) && label === "fraud") tp++;
    else if (flagged(d)) fp++;
    else if (label === "fraud") fn++;
  }
  const round = (x: number) => Math.round(x * 10_000) / 10_000;
  return {
    flagged: tp + fp,
    truePositives: tp,
    precision: tp + fp === 0 ? null : round(tp / (tp + fp)),
    recall: tp + fn === 0 ? null : round(tp / (tp + fn)),
  };
}

/** Precision and recall of the live and the candidate decisions, over the labelled transactions. */
export function backtest(
  outcomes: ReadonlyMap<string, { live: DecisionOutcome; candidate: DecisionOutcome }>,
  labels: ReadonlyMap<string, Label>,
): Backtest {
  const live: Array<[DecisionOutcome, Label]> = [];
  const candidate: Array<[DecisionOutcome, Label]> = [];
  for (const [id, o] of outcomes) {
    const label = labels.get(id);
    if (!label) continue;
    live.push([o.live, label]);
    candidate.push([o.candidate, label]);
  }
  return {
    labelled: live.length,
    fraud: live.filter(([, l]) => l === "fraud").length,
    live: quality(live),
    candidate: quality(candidate),
  };
}

/** Reads `transaction_id,label` lines (a header line is allowed). @throws SentinelError on a bad line. */
export async function readLabelsCsv(file: string): Promise<Map<string, Label>> {
  const labels = new Map<string, Label>();
  const lines = (await readFile(file, "utf8")).split(/\r?\n/);
  lines.forEach((line, i) => {
    const text = line.trim();
    if (text === "" || (i === 0 && /transaction_id/i.test(text))) return;
    const [id, label] = text.split(",").map((s) => s.trim());
    if (!id || !/^[0-9a-f-]{36}$/i.test(id) || (label !== "fraud" && label !== "legitimate")) {
      throw new SentinelError(
        "validation_failed",
        `${file}:${i + 1}: expected transaction_id,fraud|legitimate`,
      );
    }
    labels.set(id.toLowerCase(), label);
  });
  return labels;
}

const pct = (x: number | null) => (x === null ? "—" : `${(x * 100).toFixed(1)}%`);

/** The backtest lines of the replay summary (pure). */
export function renderBacktest(b: Backtest, liveName: string, candidateName: string): string[] {
  if (b.labelled === 0)
    return ["backtest: no labelled transaction in the range (label some, or pass --labels <csv>)"];
  return [
    `backtest on ${b.labelled} labelled transactions (${b.fraud} fraud):`,
    `  ${liveName.padEnd(18)} flags ${String(b.live.flagged).padStart(6)}, precision ${pct(b.live.precision)}, recall ${pct(b.live.recall)}`,
    `  ${candidateName.padEnd(18)} flags ${String(b.candidate.flagged).padStart(6)}, precision ${pct(b.candidate.precision)}, recall ${pct(b.candidate.recall)}`,
  ];
}

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Label } from "../domain/case.ts";
import type { DecisionOutcome } from "../domain/decision.ts";
import { SentinelError } from "../errors.ts";
import { TYPOLOGIES } from "../simulate/typologies.ts";

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

/**
 * What a label file's words mean (issue 36): any vocabulary mapped to fraud or legitimate
 * (`--fraud-labels chargeback,ato --legitimate-labels ok`), beside the words always understood —
 * fraud, legitimate, and the simulator's truth (legit, or a typology: fraud). Case-insensitive.
 */
export type LabelVocabulary = { fraud?: readonly string[]; legitimate?: readonly string[] };

function labelOf(text: string | undefined, vocabulary: LabelVocabulary): Label | undefined {
  const word = text?.toLowerCase();
  if (word === undefined) return undefined;
  if (word === "fraud" || vocabulary.fraud?.some((w) => w.toLowerCase() === word)) return "fraud";
  if (
    word === "legitimate" ||
    word === "legit" ||
    vocabulary.legitimate?.some((w) => w.toLowerCase() === word)
  )
    return "legitimate";
  return (TYPOLOGIES as readonly string[]).includes(word) ? "fraud" : undefined;
}

/**
 * Reads `transaction_id,label` lines (a header line is allowed), or any CSV whose header names a
 * `transaction_id` and a `label` column — `sentinel simulate --truth` writes one, whose labels are
 * `legit` or the typology — with the label words of `vocabulary` too. @throws SentinelError on a bad line.
 */
export async function readLabelsCsv(
  file: string,
  vocabulary: LabelVocabulary = {},
): Promise<Map<string, Label>> {
  const labels = new Map<string, Label>();
  let idColumn = 0;
  let labelColumn = 1;
  let n = 0;
  // Line by line: a label file can hold millions (the simulator's truth of a month).
  for await (const line of createInterface({ input: createReadStream(file, "utf8"), crlfDelay: Infinity })) {
    n++;
    const text = line.trim();
    if (text === "") continue;
    const cells = text.split(",").map((c) => c.trim());
    if (n === 1 && /transaction_id/i.test(text)) {
      const column = (name: string, otherwise: number) => {
        const i = cells.findIndex((c) => c.toLowerCase() === name);
        return i < 0 ? otherwise : i;
      };
      idColumn = column("transaction_id", 0);
      labelColumn = column("label", idColumn + 1);
      continue;
    }
    const id = cells[idColumn];
    const label = labelOf(cells[labelColumn], vocabulary);
    if (!id || !/^[0-9a-f-]{36}$/i.test(id))
      throw new SentinelError("validation_failed", `${file}:${n}: expected a transaction_id, then a label`);
    if (!label)
      throw new SentinelError(
        "validation_failed",
        `${file}:${n}: the label "${(cells[labelColumn] ?? "").slice(0, 40)}" means neither fraud nor legitimate: map it with --fraud-labels or --legitimate-labels`,
      );
    labels.set(id.toLowerCase(), label);
  }
  return labels;
}

/** What a label set is, by content (a model's version must not depend on a file's path: issue 36). */
export function labelsDigest(labels: ReadonlyMap<string, Label>): string {
  const hash = createHash("sha256");
  for (const id of [...labels.keys()].sort()) hash.update(`${id}:${labels.get(id)}\n`);
  return `labels sha256:${hash.digest("hex").slice(0, 16)} (${labels.size})`;
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

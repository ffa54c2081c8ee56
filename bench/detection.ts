import { sql } from "slonik";
import { z } from "zod";
import { startConsumer } from "../src/consumer/main.ts";
import { createLogger } from "../src/logger.ts";
import { createRuntime } from "../src/runtime.ts";
import { writeSimulation } from "../src/simulate/simulate-command.ts";
import { simulate, type Truth } from "../src/simulate/simulator.ts";
import { TYPOLOGIES } from "../src/simulate/typologies.ts";
import { createSandbox, type Services } from "../src/stack/sandbox.ts";
import { benchServices, log } from "./lib/services.ts";

/*
 * `npm run bench:detection [-- --quick]` (issue 24): a simulated month (`sentinel simulate`'s
 * generator, seeded) through the live scorer — a sandbox whose topic takes the producers' clocks —
 * and every decision held against the truth, on the held-out days 21–30: recall, precision, F1,
 * the false-positive rate on legitimate transactions, reviews per 1,000 transactions and the
 * confusion matrix, overall and per typology, for the active rule set (the default one). A flagged
 * transaction is one decided review or decline.
 */

const sqlCount = sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM decisions WHERE live`;
const sqlDecisions = sql.type(z.object({ id: z.string(), decision: z.string() }))`
  SELECT transaction_id::text AS id, decision FROM decisions WHERE live`;

type Decision = "approve" | "review" | "decline";
type Row = { label: Truth["label"]; decision: Decision };

export type DetectionFigures = {
  transactions: number;
  fraud: number;
  recall: number;
  precision: number;
  f1: number;
  fpr: number;
  reviewPer1000: number;
  confusion: Record<"fraud" | "legit", Record<Decision, number>>;
  perTypology: Array<{ typology: string; count: number; recall: number } & Record<Decision, number>>;
};

const round = (n: number, d = 4) => Math.round(n * 10 ** d) / 10 ** d;

export function detectionFigures(rows: readonly Row[]): DetectionFigures {
  const flagged = (r: Row) => r.decision !== "approve";
  const fraud = rows.filter((r) => r.label !== "legit");
  const legit = rows.filter((r) => r.label === "legit");
  const tp = fraud.filter(flagged).length;
  const fp = legit.filter(flagged).length;
  const recall = fraud.length === 0 ? 0 : tp / fraud.length;
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const count = (list: readonly Row[]) => ({
    approve: list.filter((r) => r.decision === "approve").length,
    review: list.filter((r) => r.decision === "review").length,
    decline: list.filter((r) => r.decision === "decline").length,
  });
  return {
    transactions: rows.length,
    fraud: fraud.length,
    recall: round(recall),
    precision: round(precision),
    f1: round(recall + precision === 0 ? 0 : (2 * recall * precision) / (recall + precision)),
    fpr: round(legit.length === 0 ? 0 : fp / legit.length, 5),
    reviewPer1000: round(
      (rows.filter((r) => r.decision === "review").length / Math.max(1, rows.length)) * 1000,
      2,
    ),
    confusion: { fraud: count(fraud), legit: count(legit) },
    perTypology: TYPOLOGIES.map((typology) => {
      const of = rows.filter((r) => r.label === typology);
      return {
        typology,
        count: of.length,
        recall: round(of.filter(flagged).length / Math.max(1, of.length)),
        ...count(of),
      };
    }),
  };
}

export async function benchDetection(services: Services, { users = 5_000, days = 30, seed = 24 } = {}) {
  const day = 86_400_000;
  const startMs = Math.floor(Date.now() / day) * day - days * day;
  const sim = simulate({ seed, users, days, startMs });
  log(`detection: ${sim.transactions.length} simulated transactions, ${users} users, ${days} days`);
  const sandbox = await createSandbox(services, {
    prefix: "bench",
    overrides: {
      TOPIC_TRANSACTIONS_TIMESTAMP_TYPE: "CreateTime",
      TIMESTAMP_MAX_AGE_HOURS: String((days + 2) * 24),
      LOG_LEVEL: "warn",
    },
  });
  const rt = await createRuntime(sandbox.config, createLogger(sandbox.config, "bench"));
  try {
    await rt.producer.ready(30_000);
    await writeSimulation(rt, sim);
    const scorer = await startConsumer(rt);
    try {
      const deadline = Date.now() + 900_000;
      for (;;) {
        const n = Number(await rt.pool.oneFirst(sqlCount));
        if (n >= sim.transactions.length) break;
        if (Date.now() > deadline)
          throw new Error(`only ${n} of ${sim.transactions.length} decided after 15 min`);
        await new Promise((r) => setTimeout(r, 1_000));
      }
    } finally {
      await scorer.stop();
    }
    const decided = new Map(
      (await rt.pool.any(sqlDecisions)).map((r) => [
        (r as { id: string }).id,
        (r as { decision: Decision }).decision,
      ]),
    );
    const heldOut = sim.truth
      .filter((t) => t.day >= 21)
      .map((t) => ({ label: t.label, decision: decided.get(t.transaction_id)! }));
    return detectionFigures(heldOut);
  } finally {
    await rt.close();
    await sandbox.cleanup();
  }
}

export function detectionLines(f: DetectionFigures): Record<string, number> {
  return {
    detection_recall: f.recall,
    detection_precision: f.precision,
    detection_fpr: f.fpr,
    detection_review_per_1000: f.reviewPer1000,
  };
}

export function detectionTable(f: DetectionFigures): string {
  const head = `| typology | transactions | recall | approve | review | decline |\n| --- | --- | --- | --- | --- | --- |`;
  const rows = f.perTypology.map(
    (t) => `| ${t.typology} | ${t.count} | ${t.recall} | ${t.approve} | ${t.review} | ${t.decline} |`,
  );
  const legit = f.confusion.legit;
  return [
    `held-out days 21–30: ${f.transactions} transactions, ${f.fraud} fraudulent — recall ${f.recall}, precision ${f.precision}, F1 ${f.f1}, FPR ${f.fpr}, reviews per 1,000: ${f.reviewPer1000}`,
    "",
    head,
    ...rows,
    `| legit | ${legit.approve + legit.review + legit.decline} | — | ${legit.approve} | ${legit.review} | ${legit.decline} |`,
  ].join("\n");
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const figures = await benchDetection(await benchServices(), quick ? { users: 1_000 } : {});
  process.stderr.write(`${detectionTable(figures)}\n`);
  for (const [k, v] of Object.entries(detectionLines(figures))) console.log(`${k}=${v}`);
}

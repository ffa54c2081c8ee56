import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { usePipeline } from "../support/pipeline.ts";
import { runSentinel } from "../support/processes.ts";
import { eventually } from "../support/topics.ts";

/*
 * Issue 24, the simulator through the real pipeline: `sentinel simulate --via kafka` writes its
 * users' profiles and a week of their transactions (producers' clocks: a CreateTime topic, old
 * timestamps accepted), the truth as CSV beside them; every simulated transaction is stored and
 * decided, and the truth names each one.
 */

const p = usePipeline({ TOPIC_TRANSACTIONS_TIMESTAMP_TYPE: "CreateTime", TIMESTAMP_MAX_AGE_HOURS: "400" });
const truthFile = join(tmpdir(), `truth-${process.pid}.csv`);
afterAll(() => rmSync(truthFile, { force: true }));

describe("sentinel simulate", () => {
  it("writes labelled transactions through Kafka; each is stored and decided, and the truth names it", async () => {
    const run = await runSentinel(
      [
        "simulate",
        "--users",
        "60",
        "--days",
        "7",
        "--seed",
        "3",
        "--via",
        "kafka",
        "--truth",
        truthFile,
        "--mix",
        "card_testing=0.05,velocity_burst=0.05",
      ],
      p.ctx.env,
    );
    expect(run.code, run.output).toBe(0);
    const truth = readFileSync(truthFile, "utf8")
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.split(","));
    expect(truth.length).toBeGreaterThan(100);
    const labels = new Set(truth.map((t) => t[3]));
    for (const label of ["legit", "card_testing", "velocity_burst"])
      expect(labels.has(label), label).toBe(true);
    const decided = async () =>
      Number((await p.db.query("SELECT count(*) AS n FROM decisions WHERE live")).rows[0].n);
    expect(await eventually(async () => (await decided()) >= truth.length, 60_000)).toBe(true);
    const { rows } = await p.db.query<{ id: string; decision: string }>(
      "SELECT transaction_id::text AS id, decision FROM decisions WHERE live",
    );
    const byId = new Map(rows.map((r) => [r.id, r.decision]));
    expect(truth.every(([id]) => byId.has(id!))).toBe(true);
    // The users were known (profiles written first): legitimate purchases are mostly approved.
    const legit = truth.filter((t) => t[3] === "legit").map(([id]) => byId.get(id!));
    expect(legit.filter((d) => d === "approve").length / legit.length).toBeGreaterThan(0.8);
  });
});

import { randomUUID } from "node:crypto";
import { copyFileSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEntityMemory } from "../../src/cache/entity-memory.ts";
import { loadEntityValues } from "../../src/model/training-data.ts";
import { usePipeline } from "../support/pipeline.ts";
import { runSentinel } from "../support/processes.ts";
import { eventually } from "../support/topics.ts";

/*
 * Issue 24, the learned score end to end on the real pipeline: a simulated fortnight (with account
 * takeovers among its frauds) through Kafka; `sentinel model train` on it with the simulator's
 * truth; an account-takeover-shaped payment is approved by the rules alone, then — once the model
 * is activated, without a restart — flagged with the model's version and its top three feature
 * contributions among the reasons; a rollback puts the rules back alone; a shadow model's
 * decisions are stored beside the live ones and compared; the backtest (replay --redecide --model)
 * reports the candidate's precision and recall beside the live decisions'.
 */

const DAY = 86_400_000;
const start = Math.floor(Date.now() / DAY) * DAY - 14 * DAY;
const p = usePipeline({
  TOPIC_TRANSACTIONS_TIMESTAMP_TYPE: "CreateTime",
  TIMESTAMP_MAX_AGE_HOURS: "480",
  MODEL_DRIFT_INTERVAL_SECONDS: "1",
  // The whole fortnight stays in the entity memory (the parity test below asks it about day 1).
  ENTITY_RETENTION_DAYS: "30",
});
const truthFile = join(tmpdir(), `model-truth-${process.pid}.csv`);
afterAll(() => rmSync(truthFile, { force: true }));

type Answer = { decision: { decision: string; reasons: string[]; rules_version: string } };

let truth: string[][] = [];
let version = "";

/** A payment shaped like an account takeover for `user`: a new device in a far country, a new merchant, several times the user's usual amount. */
async function takeover(user: string): Promise<Answer["decision"]> {
  const { rows } = await p.db.query<{ avg: string; currency: string }>(
    `SELECT avg(t.amount)::numeric(12,2)::text AS avg, min(t.currency) AS currency
     FROM transactions t WHERE t.user_id = $1`,
    [user],
  );
  const amount = Math.min(2_000, Number(rows[0]!.avg) * 8).toFixed(2);
  const res = await p.request("POST", "/transaction", {
    body: {
      transaction_id: randomUUID(),
      user_id: user,
      amount,
      currency: rows[0]!.currency.trim(),
      merchant_id: `m-br-${randomUUID().slice(0, 6)}`,
      merchant_category: "5732",
      country: "BR",
      channel: "ecommerce",
      device_id: `dev-${randomUUID().slice(0, 10)}`,
    },
    headers: { prefer: "wait=10" },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as Answer).decision;
}

/** `sentinel model train` over the simulated fortnight, with the labels of `file`. */
const trainOn = (file: string) =>
  runSentinel(
    [
      "model",
      "train",
      ...["--from", new Date(start).toISOString(), "--to", new Date(start + 15 * DAY).toISOString()],
      ...["--labels", file, "--trees", "60", "--json"],
    ],
    p.ctx.env,
  );

const modelReason = (reasons: readonly string[]) => reasons.find((r) => r.startsWith("model "));

beforeAll(async () => {
  const run = await runSentinel(
    [
      "simulate",
      ...["--users", "120", "--days", "14", "--seed", "11", "--via", "kafka", "--truth", truthFile],
      ...[
        "--start",
        new Date(start).toISOString(),
        "--mix",
        "account_takeover=0.15,card_testing=0.05,high_value_first=0.05",
      ],
    ],
    p.ctx.env,
  );
  expect(run.code, run.output).toBe(0);
  truth = readFileSync(truthFile, "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .map((l) => l.split(","));
  const decided = async () =>
    Number((await p.db.query("SELECT count(*) AS n FROM decisions WHERE live")).rows[0].n);
  expect(await eventually(async () => (await decided()) >= truth.length, 90_000)).toBe(true);
}, 150_000);

describe("sentinel model", () => {
  it("computes the entity features from rows exactly as the scorer's memory recorded them live (train/serve parity)", async () => {
    const from = start;
    const to = start + 15 * DAY;
    // The simulated users keep their own merchants and devices: six more share one of each.
    for (let i = 0; i < 12; i++) {
      const res = await p.request("POST", "/transaction", {
        body: {
          transaction_id: randomUUID(),
          user_id: `parity-u${i % 6}`,
          amount: "12.00",
          currency: "USD",
          merchant_id: "m-parity-shared",
          device_id: "dev-parity-shared",
        },
        headers: { prefer: "wait=10" },
      });
      expect(res.status).toBe(200);
    }
    const trainer = await loadEntityValues(p.rt.pool, from, to);
    const { rows } = await p.db.query<{
      id: string;
      user: string;
      m: string | null;
      d: string | null;
      ms: string;
    }>(
      `SELECT transaction_id::text AS id, user_id AS user, merchant_id AS m, device_id AS d,
              (extract(epoch FROM received_at) * 1000)::int8::text AS ms
       FROM transactions WHERE received_at >= to_timestamp($1) AND received_at < to_timestamp($2)
       ORDER BY received_at, source_partition, source_offset`,
      [from / 1000, to / 1000],
    );
    expect(rows.length).toBe(truth.length + 12);
    // What the scorer's memory answers for each transaction as of its time, recording nothing more.
    const memory = createEntityMemory({
      redis: p.rt.redis,
      keyPrefix: p.rt.config.redis.keyPrefix,
      retentionMs: 30 * DAY,
      logger: p.rt.logger,
    });
    const served = await memory.observe(
      rows.map((r) => ({
        transactionId: r.id,
        user: r.user,
        receivedMs: Number(r.ms),
        merchant_id: r.m ?? undefined,
        device_id: r.d ?? undefined,
      })),
      false,
    );
    const differing = rows.filter((r) => [...trainer.get(r.id)!].join() !== [...served.get(r.id)!].join());
    expect(differing.slice(0, 3)).toEqual([]);
    // Not all zero: the last of the six sharing a merchant and a device saw the five others on both.
    expect([...trainer.get(rows.at(-1)!.id)!]).toEqual([5, 5]);
  });

  it("trains on the labelled transactions of a range, saved and not active", async () => {
    const run = await trainOn(truthFile);
    expect(run.code, run.output).toBe(0);
    const trained = JSON.parse(run.stdout) as {
      version: string;
      rows: number;
      fraud: number;
      activated: boolean;
      holdout: { from: string; rows: number; fraud: number; auc: number | null; atReviews: unknown[] };
    };
    expect(trained.version).toMatch(/^mdl-[0-9a-f]{12}$/);
    // Issue 36: the range's last fifth is held out of training and evaluated on (out of time).
    expect(trained.rows + trained.holdout.rows).toBe(truth.length);
    expect(trained.fraud + trained.holdout.fraud).toBe(truth.filter((t) => t[3] !== "legit").length);
    expect(Date.parse(trained.holdout.from)).toBe(start + 12 * DAY);
    expect(trained.holdout.atReviews).toHaveLength(3);
    // Its own levels, which the default rules use once it is active (RULES_MODEL_OWN_THRESHOLDS).
    const levels = (trained.holdout as unknown as { operating: { review: number; decline: number } })
      .operating;
    expect(levels).toMatchObject({ flagPer1000: 3, declinePer1000: 1 });
    expect(levels.decline).toBeGreaterThanOrEqual(levels.review);
    expect(trained.activated).toBe(false);
    version = trained.version;

    // The same labels from another file: the same version (a path is not what a model learnt from).
    const copy = `${truthFile}.copy.csv`;
    copyFileSync(truthFile, copy);
    const again = await trainOn(copy);
    rmSync(copy, { force: true });
    expect(JSON.parse(again.stdout)).toMatchObject({ version, created: false });

    // Thresholds on the held-out tail: the budget is kept, the figures are not in-sample.
    const t = await runSentinel(
      [
        "model",
        "thresholds",
        version,
        "--labels",
        truthFile,
        "--review-per-1000",
        "20",
        "--fpr",
        "0.01",
        "--json",
      ],
      p.ctx.env,
    );
    expect(t.code, t.output).toBe(0);
    const th = JSON.parse(t.stdout) as {
      inSample: boolean;
      rows: number;
      points: Array<{ reviewPer1000: number; fpr: number; recall: number }>;
    };
    expect(th.inSample).toBe(false);
    expect(th.rows).toBe(trained.holdout.rows);
    expect(th.points[0]!.reviewPer1000).toBeLessThanOrEqual(20);
    expect(th.points[1]!.fpr).toBeLessThanOrEqual(0.01);
    const list = await runSentinel(["model", "list", "--json"], p.ctx.env);
    const models = JSON.parse(list.stdout) as Array<{ version: string; active: boolean }>;
    expect(models.find((m) => m.version === version)).toMatchObject({ active: false });
    // A range with no labelled transaction is refused with a reason, not an empty model.
    const empty = await runSentinel(
      ["model", "train", "--from", "2020-01-01T00:00:00Z", "--to", "2020-01-02T00:00:00Z"],
      p.ctx.env,
    );
    expect(empty.code).not.toBe(0);
    expect(empty.output).toMatch(/no labelled transaction in the range/);
  }, 120_000);

  it("changes decisions once activated, with its version and top three contributions in the reasons; a rollback undoes it", async () => {
    const users = [...new Set(truth.filter((t) => t[3] === "legit").map((t) => t[1]!))].slice(0, 3);
    for (const user of users) {
      const before = await takeover(user);
      expect(before.decision, JSON.stringify(before)).toBe("approve");
      expect(modelReason(before.reasons)).toBeUndefined();
    }
    expect((await runSentinel(["model", "activate", version], p.ctx.env)).code).toBe(0);
    // Consumers poll every 2 s: the next decisions after that use the model.
    let after: Answer["decision"] | undefined;
    expect(
      await eventually(
        async () => {
          after = await takeover(users[0]!);
          return modelReason(after.reasons) !== undefined;
        },
        20_000,
        500,
      ),
    ).toBe(true);
    expect(after!.decision).not.toBe("approve");
    expect(after!.reasons.some((r) => r.startsWith("model_"))).toBe(true);
    const reason = modelReason(after!.reasons)!;
    expect(reason).toMatch(
      new RegExp(
        `^model ${version} score (0|1)\\.\\d{4}: \\w+ [+-]\\d+\\.\\d{2}, \\w+ [+-]\\d+\\.\\d{2}, \\w+ [+-]\\d+\\.\\d{2}$`,
      ),
    );
    for (const user of users.slice(1)) expect((await takeover(user)).decision).not.toBe("approve");

    // Drift (issue 36): the consumer measured the model it scores with against its training rows.
    expect(
      await eventually(
        async () =>
          (await p.db.query("SELECT 1 FROM model_drift WHERE version = $1", [version])).rowCount === 1,
        15_000,
        250,
      ),
    ).toBe(true);
    const listed = JSON.parse((await runSentinel(["model", "list", "--json"], p.ctx.env)).stdout) as Array<{
      version: string;
      drift: { sampled_rows: number; score_psi: number; worst_feature: string; drifted: boolean } | null;
    }>;
    const drift = listed.find((m) => m.version === version)!.drift!;
    expect(drift.sampled_rows).toBeGreaterThan(0);
    expect(typeof drift.drifted).toBe("boolean");
    expect(drift.worst_feature).toMatch(/^[a-z0-9_]+$/);

    expect((await runSentinel(["model", "rollback"], p.ctx.env)).output).toMatch(/no model active/);
    expect(
      await eventually(
        async () => modelReason((await takeover(users[0]!)).reasons) === undefined,
        20_000,
        500,
      ),
    ).toBe(true);
    const audit = await p.db.query<{ action: string }>(
      "SELECT action FROM audit_log WHERE action LIKE 'model.%' ORDER BY audit_id",
    );
    expect(audit.rows.map((r) => r.action)).toEqual(["model.train", "model.activate", "model.rollback"]);
  }, 120_000);

  it("shadows a model: its decisions stored beside the live ones, never live, and compared", async () => {
    expect((await runSentinel(["model", "shadow", version], p.ctx.env)).code).toBe(0);
    // A user the tests above did not use: its first takeover-shaped payment is new in every way.
    const user = [...new Set(truth.filter((t) => t[3] === "legit").map((t) => t[1]!))][5]!;
    let shadowed = 0;
    // Consumers poll every 2 s: give them that before the first payment, so it is the one compared.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(
      await eventually(
        async () => {
          await takeover(user);
          const { rows } = await p.db.query<{ n: string }>(
            "SELECT count(*) AS n FROM decisions WHERE NOT live AND rules_version LIKE $1",
            [`%+${version}`],
          );
          shadowed = Number(rows[0]!.n);
          return shadowed > 0;
        },
        20_000,
        500,
      ),
    ).toBe(true);
    const compare = await runSentinel(["model", "compare", "--json"], p.ctx.env);
    const c = JSON.parse(compare.stdout) as {
      version: string;
      compared: number;
      moves: Array<{ from: string }>;
    };
    expect(c.version).toBe(version);
    expect(c.compared).toBeGreaterThan(0);
    expect(c.moves.some((m) => m.from === "approve")).toBe(true);
    expect((await runSentinel(["model", "shadow", "--off"], p.ctx.env)).code).toBe(0);
  }, 60_000);

  it("backtests a model on replay: the candidate's precision and recall beside the live decisions'", async () => {
    const run = await runSentinel(
      [
        "replay",
        "--from",
        "earliest",
        "--redecide",
        "--model",
        version,
        "--labels",
        truthFile,
        "--no-progress",
        "--json",
      ],
      p.ctx.env,
    );
    expect(run.code, run.output).toBe(0);
    const summary = JSON.parse(run.stdout) as {
      rulesVersion: string;
      backtest: {
        labelled: number;
        fraud: number;
        live: { recall: number };
        candidate: { recall: number; precision: number };
      };
    };
    expect(summary.rulesVersion).toMatch(new RegExp(`\\+${version}$`));
    expect(summary.backtest.labelled).toBeGreaterThanOrEqual(truth.length);
    expect(summary.backtest.fraud).toBe(truth.filter((t) => t[3] !== "legit").length);
    // On the data it was trained on, the model finds more of the fraud than the rules alone.
    expect(summary.backtest.candidate.recall).toBeGreaterThan(summary.backtest.live.recall);
    expect(summary.backtest.candidate.precision).toBeGreaterThan(0.5);
  }, 120_000);

  it("retrains on the last days' labels and activates the candidate only when it catches more (issue 36)", async () => {
    const run = await runSentinel(
      [
        "model",
        "retrain",
        "--days",
        "15",
        "--labels",
        truthFile,
        "--trees",
        "60",
        "--review-per-1000",
        "200",
      ],
      p.ctx.env,
    );
    expect(run.code, run.output).toBe(0);
    const line = (name: string) => new RegExp(`^${name}=(.*)$`, "m").exec(run.stdout)?.[1];
    const candidate = line("retrain_candidate")!;
    expect(candidate).toMatch(/^mdl-[0-9a-f]{12}$/);
    // No model was active (the rollback test left none): a candidate that catches something wins.
    expect(line("retrain_active_recall")).toBe("none");
    expect(Number(line("retrain_candidate_recall"))).toBeGreaterThan(0);
    expect(line("retrain_decision")).toBe("activated");
    const list = JSON.parse((await runSentinel(["model", "list", "--json"], p.ctx.env)).stdout) as Array<{
      version: string;
      active: boolean;
    }>;
    expect(list.find((m) => m.active)?.version).toBe(candidate);
    const audit = await p.db.query(
      "SELECT after FROM audit_log WHERE action = 'model.retrain' AND target = $1",
      [candidate],
    );
    expect(audit.rows[0].after).toMatchObject({
      candidate,
      active: null,
      better: true,
      review_per_1000: 200,
    });
  }, 120_000);
});

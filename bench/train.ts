import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { profileOf } from "../src/simulate/population.ts";
import { writeTruth } from "../src/simulate/simulate-command.ts";
import { simulate } from "../src/simulate/simulator.ts";
import { createSandbox } from "../src/stack/sandbox.ts";
import { createDatabasePool } from "../src/store/pool.ts";
import { createProfileStore } from "../src/store/profile-store.ts";
import { benchServices, log } from "./lib/services.ts";

/*
 * `npm run bench:train [-- --quick]` (issue 24): `sentinel model train` on 1,000,000 labelled
 * transactions, as an operator runs it — a separate process reading them (and their users' earlier
 * ones, for the features) from PostgreSQL, the labels from a CSV (the simulator's truth) — timed,
 * with the process's peak resident memory. Target: ≤ 2 minutes and ≤ 1 GiB on this box.
 *
 * The transactions are a simulated month written straight into the sandbox's tables (the pipeline
 * is not what is measured here; bench:detection runs a month through it).
 */

const DAY = 86_400_000;

async function load(
  databaseUrl: string,
  users: number,
  startMs: number,
): Promise<{ rows: number; truthFile: string }> {
  const sim = simulate({ seed: 7, users, days: 30, startMs });
  log(`train: ${sim.transactions.length} simulated transactions of ${users} users`);
  const truthFile = join(tmpdir(), `train-truth-${process.pid}.csv`);
  await writeTruth(truthFile, sim.truth);
  const pool = await createDatabasePool(databaseUrl, { maxPoolSize: 2 });
  await createProfileStore({ pool })
    .upsertMany(sim.users.map((u) => ({ userId: u.userId, profile: profileOf(u) })))
    .finally(() => pool.end());
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    // The month's weekly partitions (migration 016): rows inserted here bypass the scorer, which
    // would create them.
    await db.query("SELECT sentinel_ensure_partitions($1::timestamptz, $2::timestamptz)", [
      new Date(startMs).toISOString(),
      new Date(startMs + 30 * 86_400_000).toISOString(),
    ]);
    const batch = 25_000;
    for (let i = 0; i < sim.transactions.length; i += batch) {
      const rows = sim.transactions.slice(i, i + batch).map((t, k) => ({ ...t, offset: i + k }));
      await db.query(
        `INSERT INTO transactions (transaction_id, user_id, amount, currency, event_time, received_at, merchant_id,
           merchant_category, country, channel, device_id, ip, source_partition, source_offset)
         SELECT transaction_id, user_id, amount, currency, timestamp, timestamp, merchant_id, merchant_category,
                country, channel, device_id, ip::inet, 0, "offset"
         FROM jsonb_to_recordset($1::jsonb) AS t(transaction_id uuid, user_id text, amount numeric, currency text,
           timestamp timestamptz, merchant_id text, merchant_category text, country text, channel text,
           device_id text, ip text, "offset" int8)`,
        [JSON.stringify(rows)],
      );
    }
    await db.query("ANALYZE transactions");
    return { rows: sim.transactions.length, truthFile };
  } finally {
    await db.end();
  }
}

/** Runs `sentinel model train` in its own process: its JSON summary and wall time. */
function train(
  env: Record<string, string>,
  args: string[],
): Promise<{ out: Record<string, unknown>; seconds: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["bin/sentinel.ts", "model", "train", ...args, "--json"], {
      env: { ...process.env, ...env, LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`sentinel model train exited ${code}`));
      else
        resolve({
          out: JSON.parse(stdout) as Record<string, unknown>,
          seconds: (Date.now() - started) / 1000,
        });
    });
  });
}

export async function benchTrain({ users = 19_000 } = {}) {
  const sandbox = await createSandbox(await benchServices(), { prefix: "train" });
  const startMs = Math.floor(Date.now() / DAY) * DAY - 30 * DAY;
  let truthFile = "";
  try {
    const loaded = await load(sandbox.config.database.url, users, startMs);
    truthFile = loaded.truthFile;
    log(`train: ${loaded.rows} rows loaded; training…`);
    const { out, seconds } = await train(sandbox.env, [
      ...["--from", new Date(startMs).toISOString(), "--to", new Date(startMs + 30 * DAY).toISOString()],
      ...["--labels", truthFile],
    ]);
    return {
      rows: out.rows as number,
      fraud: out.fraud as number,
      seconds,
      featureSeconds: out.featureSeconds as number,
      peakRssMib: out.peakRssMib as number,
      trainingAuc: out.trainingAuc as number | null,
    };
  } finally {
    if (truthFile) rmSync(truthFile, { force: true });
    await sandbox.cleanup();
  }
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const r = await benchTrain(quick ? { users: 2_000 } : {});
  log(
    `train: ${r.rows} rows (${r.fraud} fraud) in ${r.seconds} s (features ${r.featureSeconds} s), peak RSS ${r.peakRssMib} MiB, training AUC ${r.trainingAuc}`,
  );
  console.log(`model_train_rows=${r.rows}`);
  console.log(`model_train_seconds=${r.seconds} (target <= 120)`);
  console.log(`model_train_peak_rss_mib=${r.peakRssMib} (target <= 1024)`);
}

import { once } from "node:events";
import { createWriteStream } from "node:fs";
import type { Config } from "../config.ts";
import { SentinelError } from "../errors.ts";
import { withAdmin } from "../kafka/admin.ts";
import { createPublisher } from "../kafka/publisher.ts";
import { topicConfigs } from "../kafka/topics.ts";
import type { Logger } from "../logger.ts";
import { withRuntime } from "../ops/output.ts";
import type { Runtime } from "../runtime.ts";
import { profileOf } from "./population.ts";
import { type SimOptions, simulate, type Truth } from "./simulator.ts";
import { TYPOLOGIES, type Typology } from "./typologies.ts";

/*
 * `sentinel simulate` (issue 24): the simulated users' profiles into PostgreSQL, their
 * transactions through the real pipeline — on the transactions topic (`--via kafka`, keyed by
 * user, acks=all), or nowhere (`--via none`, files only) — and the truth beside them as CSV
 * (`transaction_id,user_id,day,label`). Simulated days lie in the past: the topic must take the
 * producers' clocks (TOPIC_TRANSACTIONS_TIMESTAMP_TYPE=CreateTime) and the consumers accept old
 * timestamps (TIMESTAMP_MAX_AGE_HOURS ≥ the days simulated × 24), as the detection bench sets.
 */

export type SimulateCliOptions = {
  users: number;
  days: number;
  seed: number;
  start?: string;
  via: string;
  truth?: string;
  out?: string;
  mix?: string;
  /** clean (the default) or noisy (issue 36). */
  world?: string;
  /** Write even what the topic's retention would delete at once (CreateTime older than retention.ms). */
  allowPartial?: boolean;
};

/** `card_testing=0.01,collusion=0` → shares per typology. @throws SentinelError on a bad entry. */
export function parseMix(text: string | undefined): Partial<Record<Typology, number>> {
  const mix: Partial<Record<Typology, number>> = {};
  for (const part of (text ?? "").split(",").filter(Boolean)) {
    const [name, value] = part.split("=");
    const share = Number(value);
    if (!TYPOLOGIES.includes(name as Typology) || !(share >= 0 && share <= 1)) {
      throw new SentinelError(
        "validation_failed",
        `--mix: "${part}" is not typology=share (typologies: ${TYPOLOGIES.join(", ")}; share 0–1)`,
      );
    }
    mix[name as Typology] = share;
  }
  return mix;
}

async function writeLines(path: string, lines: Iterable<string>): Promise<void> {
  const out = createWriteStream(path);
  for (const line of lines) if (!out.write(`${line}\n`)) await once(out, "drain");
  out.end();
  await once(out, "finish");
}

/** The truth as CSV (`transaction_id,user_id,day,label`): what `--truth` writes and `--labels` reads. */
export async function writeTruth(path: string, truth: readonly Truth[]): Promise<void> {
  await writeLines(path, [
    "transaction_id,user_id,day,label",
    ...truth.map((t) => `${t.transaction_id},${t.user_id},${t.day},${t.label}`),
  ]);
}

/**
 * Writes a simulation through the pipeline: the users' profiles (PostgreSQL and the cache, as
 * `PUT /users/:id/profile` would), then their transactions on the transactions topic through the
 * publish boundary (acks=all, split to fit the broker's limits), keyed by user and stamped with
 * their own time. Used by `sentinel simulate` and the detection bench.
 * @throws SentinelError(broker_unavailable | store_unavailable).
 */
export async function writeSimulation(
  rt: Pick<Runtime, "config" | "profiles" | "producer">,
  sim: Pick<ReturnType<typeof simulate>, "users" | "transactions">,
): Promise<void> {
  await rt.profiles.upsertMany(sim.users.map((u) => ({ userId: u.userId, profile: profileOf(u) })));
  const publisher = createPublisher({
    producer: rt.producer.producer,
    maxRequestBytes: rt.config.producer.maxBatchBytes,
  });
  for (let i = 0; i < sim.transactions.length; i += 10_000) {
    await publisher.publish([
      {
        topic: rt.config.kafka.topics.transactions,
        messages: sim.transactions.slice(i, i + 10_000).map((t) => ({
          key: t.user_id,
          value: JSON.stringify(t),
          timestamp: String(Date.parse(t.timestamp)),
        })),
      },
    ]);
  }
}

export async function simulateCommand(
  config: Config,
  logger: Logger,
  opts: SimulateCliOptions,
): Promise<void> {
  if (!["kafka", "none"].includes(opts.via))
    throw new SentinelError("validation_failed", "--via must be kafka or none");
  const world = opts.world ?? "clean";
  if (world !== "clean" && world !== "noisy")
    throw new SentinelError("validation_failed", "--world must be clean or noisy");
  const day = 86_400_000;
  const startMs = opts.start ? Date.parse(opts.start) : Math.floor(Date.now() / day) * day - opts.days * day;
  if (Number.isNaN(startMs)) throw new SentinelError("validation_failed", "--start must be an RFC 3339 time");
  const options: SimOptions = {
    seed: opts.seed,
    users: opts.users,
    days: opts.days,
    startMs,
    mix: parseMix(opts.mix),
    world,
  };
  const sim = simulate(options);
  const { users, transactions, truth } = sim;
  if (opts.truth) await writeTruth(opts.truth, truth);
  if (opts.out)
    await writeLines(
      opts.out,
      transactions.map((t) => JSON.stringify(t)),
    );
  const fraud = truth.filter((t) => t.label !== "legit").length;
  process.stdout.write(
    `simulated ${users.length} users over ${opts.days} days: ${transactions.length} transactions, ${fraud} fraudulent\n`,
  );
  if (opts.via === "none") return;
  await withRuntime(config, logger, async (rt) => {
    if (!opts.allowPartial) await refuseWhatRetentionDeletes(rt, startMs);
    await writeSimulation(rt, sim);
  });
  process.stdout.write(`written to ${config.kafka.topics.transactions}: ${transactions.length}\n`);
}

/**
 * A topic stamped with the producers' time (CreateTime) deletes a message older than its
 * retention.ms at once: a simulation starting before that would be partly gone before anything
 * read it (issue 34). Refused unless --allow-partial; a LogAppendTime topic (the default) keeps
 * what is written for its retention from now.
 * @throws SentinelError(validation_failed) naming the start, the retention and what to change.
 */
async function refuseWhatRetentionDeletes(
  rt: Pick<Runtime, "kafka" | "config">,
  startMs: number,
): Promise<void> {
  const topic = rt.config.kafka.topics.transactions;
  const configs = (await withAdmin(rt.kafka, (admin) => topicConfigs(admin, [topic]))).get(topic);
  const value = (name: string) => configs?.get(name)?.value;
  const retentionMs = Number(value("retention.ms") ?? -1);
  if (value("message.timestamp.type") !== "CreateTime" || retentionMs < 0) return;
  if (startMs >= Date.now() - retentionMs) return;
  throw new SentinelError(
    "validation_failed",
    `${topic} is stamped with the producers' time (CreateTime) and keeps ${Math.round(retentionMs / 86_400_000)} days: a simulation from ${new Date(startMs).toISOString()} would be partly deleted before anything reads it. Use a shorter --days or a later --start, raise the topic's retention (TOPIC_TRANSACTIONS_RETENTION_DAYS and \`sentinel init\`), or pass --allow-partial`,
  );
}

import type { Command } from "commander";
import type { SimulateCliOptions } from "../simulate/simulate-command.ts";
import { initialize } from "../stack/initialize.ts";
import { stackDown, stackStatus, stackUp } from "../stack/stack.ts";
import { prepareDatabase } from "../store/database.ts";
import { createDatabasePool } from "../store/pool.ts";
import { createProfileStore } from "../store/profile-store.ts";
import { configOrExit, oneShot, positiveInt, withConfig } from "./actions.ts";
import { seedProfiles } from "./seed.ts";
import { serve } from "./serve.ts";

/** The processes (all, ingest, consume, dev) and setting up what they need (migrate, init, seed). */
export function addRunCommands(program: Command): void {
  program
    .command("all")
    .description("run ingest, the scoring consumer and the webhook delivery in one process (npm start)")
    .action(withConfig((c, l) => serve(c, l, { ingest: true, consumer: true, webhooks: true })));
  program
    .command("ingest")
    .description("run the HTTP ingress only")
    .action(withConfig((c, l) => serve(c, l, { ingest: true, consumer: false })));
  program
    .command("consume")
    .description("run the scoring consumer only (one member of the consumer group)")
    .action(withConfig((c, l) => serve(c, l, { ingest: false, consumer: true })));

  program
    .command("dev")
    .description("bring the local stack up if needed, migrate, and run the pipeline with readable logs")
    .action(
      withConfig(
        async (c, l) => {
          await stackUp(c, l);
          await serve(c, l, { ingest: true, consumer: true, webhooks: true });
        },
        {
          LOG_PRETTY: "true",
          AUTH_DISABLED: "true",
          HOST: "127.0.0.1",
          SENTINEL_DEV: "true",
          APPROVALS_REQUIRED: "false",
        },
      ),
    );

  program
    .command("migrate")
    .description("create the database if missing and apply pending migrations")
    .action(
      withConfig(async (c, l) => {
        const applied = await prepareDatabase(c, l);
        l.info({ applied }, applied.length ? "migrations applied" : "schema up to date");
      }),
    );

  program
    .command("init")
    .description("wait for Kafka, create the topics, create and migrate the database (no broker is started)")
    .action(withConfig((c, l) => initialize(c, l)));

  program
    .command("seed")
    .description("write synthetic user profiles (user-0000001 …)")
    .requiredOption("--users <n>", "how many users", positiveInt)
    .option("--batch <n>", "profiles per statement", positiveInt, 5_000)
    .option("--seed <n>", "random seed (same seed, same profiles)", positiveInt, 42)
    .action(async (opts: { users: number; batch: number; seed: number }) => {
      const config = configOrExit();
      const pool = await createDatabasePool(config.database.url, { maxPoolSize: 2 });
      try {
        const n = await seedProfiles(createProfileStore({ pool }), {
          users: opts.users,
          batchSize: opts.batch,
          seed: opts.seed,
        });
        process.stdout.write(`seeded ${n} profiles\n`);
      } finally {
        await pool.end();
      }
    });

  program
    .command("simulate")
    .description(
      "simulated users over days with labelled fraud typologies, through the pipeline, with the truth as CSV",
    )
    .option("--users <n>", "how many users", positiveInt, 10_000)
    .option("--days <n>", "how many days, ending today", positiveInt, 30)
    .option("--seed <n>", "random seed (same seed, same simulation)", positiveInt, 1)
    .option("--start <time>", "the first day's start (RFC 3339; default: --days before today)")
    .option("--via <where>", "kafka (the transactions topic) or none (files only)", "kafka")
    .option("--truth <file>", "write the truth as CSV: transaction_id,user_id,day,label")
    .option("--out <file>", "write the transactions as JSON lines")
    .option("--mix <shares>", "share of users per typology, e.g. card_testing=0.01,collusion=0")
    .option(
      "--world <kind>",
      "clean (steady habits) or noisy (legitimate surprises, hidden typologies)",
      "clean",
    )
    .option("--allow-partial", "write even what a CreateTime topic's retention would delete at once")
    .action(
      oneShot(async (c, l, opts: SimulateCliOptions) =>
        (await import("../simulate/simulate-command.ts")).simulateCommand(c, l, opts),
      ),
    );
}

/** The local stack without Docker. */
export function addStackCommands(program: Command): void {
  const stack = program
    .command("stack")
    .description("the local stack without Docker (Kafka from Maven Central jars)");
  stack
    .command("up")
    .description("start Kafka if needed, create topics, prepare PostgreSQL; idempotent")
    .option("--registry", "also build and start a Schema Registry (Apicurio) at 127.0.0.1:8081")
    .option(
      "--secure",
      "the secured stack beside the plain one: Kafka SASL_SSL with ACLs (9094), PostgreSQL TLS (5433), Redis TLS (6380); env files per process",
    )
    .option(
      "--brokers <n>",
      "a local cluster of n KRaft nodes (ports 9092, 9094, …; topics replicated 3 times, 2 in sync)",
      positiveInt,
      1,
    )
    .action((opts: { registry?: boolean; brokers: number; secure?: boolean }) =>
      withConfig(async (c, l) => {
        if (opts.secure) await (await import("../stack/secure-stack.ts")).secureStackUp(c, l);
        else await stackUp(c, l, undefined, opts);
      })(),
    );
  stack
    .command("down")
    .description("stop the Kafka this stack started (and the secured stack's servers); nothing else")
    .action(
      withConfig(async (c, l) => {
        await stackDown(l, c.stackDir);
        await (await import("../stack/secure-stack.ts")).secureStackDown(l, c.stackDir);
      }),
    );
  stack
    .command("status")
    .description("show what runs and what is reachable")
    .action(
      withConfig(async (c) => {
        const s = await stackStatus(c);
        const yes = (b: boolean) => (b ? "reachable" : "NOT reachable");
        process.stdout.write(
          [
            `kafka     ${s.kafka.broker}  ${yes(s.kafka.reachable)}  ${s.kafka.ours ? `(ours, pid ${s.kafka.ours})` : "(not started by this stack)"}`,
            ...s.nodes.map(
              (n) => `kafka-node-${n.nodeId}  ${n.broker}  ${yes(n.reachable)}  (ours, pid ${n.ours})`,
            ),
            `postgres  ${yes(s.postgres.reachable)}`,
            `redis     ${yes(s.redis.reachable)}`,
            `registry  ${s.registry.url}  ${yes(s.registry.reachable)}  ${s.registry.ours ? `(ours, pid ${s.registry.ours})` : "(not started by this stack)"}`,
            "",
          ].join("\n"),
        );
      }),
    );
}

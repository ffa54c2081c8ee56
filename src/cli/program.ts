import { Command, InvalidArgumentError } from "commander";
import { type Config, loadConfig } from "../config.ts";
import { SentinelError } from "../errors.ts";
import { createLogger, type Logger } from "../logger.ts";
import type { DlqCliOptions, ReplayCliOptions } from "../ops/commands.ts";
import type { RulesAction } from "../rules/rules-command.ts";
import { initialize, stackDown, stackStatus, stackUp } from "../stack/stack.ts";
import { prepareDatabase } from "../store/database.ts";
import { createDatabasePool } from "../store/pool.ts";
import { createProfileStore } from "../store/profile-store.ts";
import { writeGeneratedFiles } from "./generated-files.ts";
import { seedProfiles } from "./seed.ts";
import { serve } from "./serve.ts";

/** Loads config or exits 2 naming every bad variable (the contract of `npm start` with bad env). */
function configOrExit(overrides: Record<string, string> = {}): Config {
  try {
    return loadConfig(undefined, overrides);
  } catch (error) {
    if (error instanceof SentinelError && error.code === "config_invalid") {
      process.stderr.write(`sentinel: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

/** The SRE commands' module, loaded only by them (tables, progress bars, the registry library). */
const ops = () => import("../ops/commands.ts");

/** For commands that end: exits once done, whatever client timers are still pending. */
function oneShot<A extends unknown[]>(run: (config: Config, logger: Logger, ...args: A) => Promise<void>) {
  return async (...args: A) => {
    const config = configOrExit({ LOG_LEVEL: "warn" });
    await run(config, createLogger(config, "sentinel", { toStderr: true }), ...args);
    process.exit(0);
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").filter(Boolean)];
}

function withConfig(
  run: (config: Config, logger: Logger) => Promise<void>,
  overrides?: Record<string, string>,
) {
  return async () => {
    const config = configOrExit(overrides);
    await run(config, createLogger(config));
  };
}

export function buildProgram(): Command {
  const program = new Command("sentinel")
    .description("SentinelStream: real-time fraud scoring for payment transactions")
    .version("0.1.0")
    .showHelpAfterError();

  program
    .command("all")
    .description("run ingest and the scoring consumer in one process (npm start)")
    .action(withConfig((c, l) => serve(c, l, { ingest: true, consumer: true })));
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
          await serve(c, l, { ingest: true, consumer: true });
        },
        { LOG_PRETTY: "true", AUTH_DISABLED: "true" },
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

  const schemas = program.command("schemas").description("the JSON Schemas of the Kafka messages");
  schemas
    .command("write", { isDefault: true })
    .description("write schemas/*.json and rulesets/default.json from the code (the default)")
    .action(async () => {
      for (const file of await writeGeneratedFiles()) process.stdout.write(`wrote ${file}\n`);
    });
  schemas
    .command("register")
    .description(
      "register transaction.v1 and decision.v1 with SCHEMA_REGISTRY_URL; set BACKWARD compatibility",
    )
    .action(oneShot(async (c) => (await ops()).schemasRegisterCommand(c)));

  const position =
    "earliest | latest | RFC 3339 time (2026-11-28T10:00:00Z) | partition:offset[,partition:offset]";
  program
    .command("replay")
    .description(
      "re-read a range of the transactions topic through the pipeline with its own consumer group; " +
        "stored rows are never changed",
    )
    .requiredOption("--from <position>", `where to start: ${position}`)
    .option(
      "--to <position>",
      "where to stop: a time (exclusive) or partition:offset (inclusive); default: each partition's end now",
    )
    .option("--partitions <list>", "only these partitions, e.g. 0,3,5")
    .option(
      "--redecide",
      "score stored transactions again with the current rules, store those decisions beside the live ones, print the moves",
    )
    .option("--dry-run", "write nothing: count (and with --redecide, diff) only")
    .option(
      "--rules <version|file.json>",
      "with --redecide: backtest this rule set (published or a local file) without activating it",
    )
    .option(
      "--labels <csv>",
      "with --redecide: transaction_id,label lines, over the labels table, for precision and recall",
    )
    .option("--no-progress", "no progress bar")
    .option("--json", "print the summary as JSON")
    .action(oneShot(async (c, l, opts: ReplayCliOptions) => (await ops()).replayCommand(c, l, opts)));

  const dlq = program.command("dlq").description("the dead-letter topic");
  dlq
    .command("list")
    .description("list dead letters: reason, source partition:offset, time, redriven, value preview")
    .option("--since <position>", `only letters from then on: ${position}`)
    .option("--reason <reason>", "only this reason (repeatable, or comma-separated)", collect)
    .option("--limit <n>", "show only the last n", positiveInt)
    .option("--json", "one JSON object per line (value in base64)")
    .action(oneShot(async (c, l, opts: DlqCliOptions) => (await ops()).dlqListCommand(c, l, opts)));
  dlq
    .command("redrive")
    .description("publish dead letters back to the transactions topic, once each (recorded in PostgreSQL)")
    .option("--since <position>", `only letters from then on: ${position}`)
    .option("--reason <reason>", "only this reason (repeatable, or comma-separated)", collect)
    .option("--dry-run", "show what would move; move nothing")
    .option("--json", "print the summary as JSON")
    .action(oneShot(async (c, l, opts: DlqCliOptions) => (await ops()).dlqRedriveCommand(c, l, opts)));

  const rules = program.command("rules").description("the fraud rules: versions, activation, performance");
  const ruleAction =
    (action: RulesAction) =>
    (...args: unknown[]) => {
      // commander calls an action with its arguments, then the options, then the command.
      const opts = args.at(-2) as { json?: boolean; off?: boolean };
      const positional = args.slice(0, -2).filter((a): a is string => typeof a === "string");
      return oneShot(async (c, l) => (await ops()).rulesCommand(c, l, action, positional, opts))();
    };
  rules
    .command("validate <file>")
    .description("check a rule set file; every problem with its JSON path")
    .option("--json")
    .action(ruleAction("validate"));
  rules
    .command("publish <file>")
    .description("store a rule set version (content-addressed, immutable)")
    .option("--json")
    .action(ruleAction("publish"));
  rules
    .command("list")
    .description("published versions, the active one marked")
    .option("--json")
    .action(ruleAction("list"));
  rules
    .command("show <version>")
    .description("a version's document (or a .json file)")
    .action(ruleAction("show"));
  rules
    .command("diff <a> <b>")
    .description("what changed between two versions (or .json files)")
    .option("--json")
    .action(ruleAction("diff"));
  rules
    .command("activate <version>")
    .description("make a published version the active one")
    .action(ruleAction("activate"));
  rules
    .command("shadow [version]")
    .description(
      "decide every new transaction with this version too, stored beside the live decision, not published",
    )
    .option("--off", "stop shadowing")
    .action(ruleAction("shadow"));
  rules
    .command("compare")
    .description("the shadow's moves against the live decisions since it started")
    .option("--json")
    .action(ruleAction("compare"));
  rules
    .command("rollback")
    .description("activate the version that was active before")
    .action(ruleAction("rollback"));
  const lists = program.command("lists").description("named lists the rules refer to (in_list)");
  for (const action of ["add", "remove"] as const) {
    lists
      .command(`${action} <name> <values...>`)
      .description(`${action} entries (consumers see it within seconds)`)
      .action((name: string, values: string[]) =>
        oneShot(async (c, l) => (await ops()).listsCommand(c, l, action, name, values))(),
      );
  }
  lists
    .command("show <name>")
    .description("a list's entries")
    .action((name: string) => oneShot(async (c, l) => (await ops()).listsCommand(c, l, "show", name, []))());
  rules
    .command("performance")
    .description("per rule (reason) and outcome: fired, labelled fraud / legitimate, unlabelled, precision")
    .option("--since <time>", "RFC 3339; default: 30 days before --until")
    .option("--until <time>", "RFC 3339; default: now")
    .option("--json", "print as JSON")
    .action(
      oneShot(async (c, l, opts: { since?: string; until?: string; json?: boolean }) =>
        (await ops()).rulesPerformanceCommand(c, l, opts),
      ),
    );

  program
    .command("offsets")
    .description(
      "the scorer group's committed offsets and lag per partition; reset them while the group is stopped",
    )
    .option("--group <id>", "consumer group (default: CONSUMER_GROUP)")
    .option("--reset-to <position>", "earliest | latest | RFC 3339 time; refused while the group has members")
    .option("--dry-run", "with --reset-to: show the new offsets, change nothing")
    .option("--json", "print as JSON")
    .action(
      oneShot(async (c, l, opts: { group?: string; resetTo?: string; dryRun?: boolean; json?: boolean }) =>
        (await ops()).offsetsCommand(c, l, opts),
      ),
    );

  const stack = program
    .command("stack")
    .description("the local stack without Docker (Kafka from Maven Central jars)");
  stack
    .command("up")
    .description("start Kafka if needed, create topics, prepare PostgreSQL; idempotent")
    .option("--registry", "also build and start a Schema Registry (Apicurio) at 127.0.0.1:8081")
    .action((opts: { registry?: boolean }) => withConfig((c, l) => stackUp(c, l, undefined, opts))());
  stack
    .command("down")
    .description("stop the Kafka this stack started; nothing else")
    .action(withConfig((c, l) => stackDown(l, c.stackDir)));
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
            `postgres  ${yes(s.postgres.reachable)}`,
            `redis     ${yes(s.redis.reachable)}`,
            `registry  ${s.registry.url}  ${yes(s.registry.reachable)}  ${s.registry.ours ? `(ours, pid ${s.registry.ours})` : "(not started by this stack)"}`,
            "",
          ].join("\n"),
        );
      }),
    );
  return program;
}

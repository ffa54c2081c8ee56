import type { Command } from "commander";
import type { AuditCliOptions } from "../audit/audit-command.ts";
import type { DlqCliOptions, ReplayCliOptions } from "../ops/commands.ts";
import { collect, oneShot, ops, positiveInt } from "./actions.ts";

/** The operator's commands: schemas, replay, the dead-letter topic, offsets, the audit trail. */
export function addOperatorCommands(program: Command): void {
  addAuditCommand(program);
  addSchemaAndReplayCommands(program);
}

/** `sentinel audit`. */
function addAuditCommand(program: Command): void {
  program
    .command("audit")
    .description("the audit trail: who changed what, when, before and after (newest first)")
    .option("--since <time>", "RFC 3339")
    .option("--until <time>", "RFC 3339")
    .option("--actor <name>", "only this key name (or operating-system user, for the CLI)")
    .option("--action <action>", "only this action (case.resolve, rules.activate, …)")
    .option("--target <id>", "only this case, user, version or list")
    .option("--limit <n>", "how many (default 100)")
    .option("--json", "one JSON object per line")
    .action(oneShot(async (c, l, opts: AuditCliOptions) => (await ops()).auditCommand(c, l, opts)));
}

/** `sentinel schemas write|register`. */
function addSchemaCommands(program: Command): void {
  const schemas = program.command("schemas").description("the JSON Schemas of the Kafka messages");
  schemas
    .command("write", { isDefault: true })
    .description("write schemas/*.json and rulesets/default.json from the code (the default)")
    .action(async () => {
      for (const file of await (await import("./generated-files.ts")).writeGeneratedFiles())
        process.stdout.write(`wrote ${file}\n`);
    });
  schemas
    .command("register")
    .description(
      "register transaction.v1 and decision.v1 with SCHEMA_REGISTRY_URL; set BACKWARD compatibility",
    )
    .action(oneShot(async (c) => (await ops()).schemasRegisterCommand(c)));
}

/** Schemas, replay, dead letters, offsets. */
function addSchemaAndReplayCommands(program: Command): void {
  addSchemaCommands(program);

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
      "--model <version>",
      "with --redecide: backtest with this trained model's score (model.score) without activating it",
    )
    .option(
      "--labels <csv>",
      "with --redecide: transaction_id,label lines (or `sentinel simulate --truth`), over the labels table, for precision and recall",
    )
    .option("--fraud-labels <words>", "label words of the CSV that mean fraud (comma-separated)", collect)
    .option(
      "--legitimate-labels <words>",
      "label words of the CSV that mean legitimate (comma-separated)",
      collect,
    )
    .option("--no-progress", "no progress bar")
    .option("--allow-partial", "read what is left of a range the topic no longer wholly holds, and say so")
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
}

/** `sentinel doctor` and `sentinel kafka-acls`: a deployment's checklist and its Kafka ACLs (issue 34). */
export function addDeploymentCommands(program: Command): void {
  program
    .command("doctor")
    .description(
      "the effective configuration (secrets masked) and the production checklist, each item with what to change",
    )
    .option("--json", "print as JSON")
    .action(
      oneShot(async (c, l, opts: { json?: boolean }) => {
        const d = await import("../ops/doctor.ts");
        const results = await d.runChecks(c, l);
        if (opts.json)
          process.stdout.write(
            `${JSON.stringify({ config: d.maskedConfig(c), checks: results }, null, 2)}\n`,
          );
        else
          process.stdout.write(
            `${JSON.stringify(d.maskedConfig(c), null, 2)}\n\n${d.renderChecks(results, c.waivers).join("\n")}\n`,
          );
        if (results.some((r) => !r.ok && !c.waivers.includes(r.name))) process.exit(1);
      }),
    );
  program
    .command("kafka-acls")
    .description("the Kafka ACLs each process needs, as kafka-acls.sh commands (docs/operations.md)")
    .option("--ingest <principal>", "the ingress's user", "sentinel_ingest")
    .option("--scorer <principal>", "the scorer's user", "sentinel_scorer")
    .option("--webhooks <principal>", "the webhook delivery's user", "sentinel_webhooks")
    .option(
      "--operator <principal>",
      "the operators' tools' user (replay, dlq, offsets, simulate)",
      "sentinel_operator",
    )
    .option("--init <principal>", "the user that runs `sentinel init`", "sentinel_admin")
    .action(
      oneShot(async (c, _l, opts: Record<string, string>) => {
        const { aclCommands, aclTable } = await import("../kafka/acls.ts");
        process.stdout.write(`${aclCommands(aclTable(c), opts).join("\n")}\n`);
      }),
    );
  program
    .command("retention")
    .description(
      "apply the retention now: drop the partitions past RETENTION_TRANSACTIONS_DAYS, prune the rest",
    )
    .action(
      oneShot(async (c) => {
        const { withPool } = await import("../store/pool.ts");
        const { applyRetention } = await import("../store/retention.ts");
        const r = await withPool(c, (pool) => applyRetention(pool, c.retention));
        const lines = [
          `retention_dropped_partitions=${r.droppedPartitions.join(",")}`,
          ...Object.entries(r.deleted).map(([k, n]) => `retention_deleted_${k}=${n}`),
        ];
        process.stdout.write(`${lines.join("\n")}\n`);
      }),
    );
}

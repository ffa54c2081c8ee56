import kafkajs, { type AclEntry, type Admin } from "kafkajs";
import type { Config } from "../config.ts";

// kafkajs is CommonJS; Node's ESM loader sees only some of its named exports (not these enums).
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

/*
 * The Kafka ACLs each process needs (issue 34), from the configured topic and group names: one
 * table, printed by `sentinel kafka-acls` for an operator to apply, applied by `stack up --secure`
 * to its local broker, and listed in docs/operations.md. A principal holds only its own rows; READ
 * and WRITE on a topic imply DESCRIBE, READ on a group implies DESCRIBE.
 */

export const PROCESSES = ["ingest", "scorer", "webhooks", "operator", "init"] as const;
export type KafkaProcess = (typeof PROCESSES)[number];

type Operation = "READ" | "WRITE" | "DESCRIBE" | "DELETE" | "CREATE" | "DESCRIBE_CONFIGS" | "ALTER_CONFIGS";

export type AclRow = {
  process: KafkaProcess;
  resource: "topic" | "group" | "cluster";
  name: string;
  pattern: "literal" | "prefixed";
  operations: readonly Operation[];
  why: string;
};

export function aclTable(config: Pick<Config, "kafka" | "consumer">): AclRow[] {
  const t = config.kafka.topics;
  const group = config.consumer.group;
  const topic = (process: KafkaProcess, name: string, operations: Operation[], why: string): AclRow => ({
    process,
    resource: "topic",
    name,
    pattern: "literal",
    operations,
    why,
  });
  const groupRow = (
    process: KafkaProcess,
    name: string,
    pattern: AclRow["pattern"],
    operations: Operation[],
    why: string,
  ): AclRow => ({ process, resource: "group", name, pattern, operations, why });
  return [
    topic("ingest", t.transactions, ["WRITE"], "POST /transaction"),
    topic("ingest", t.labels, ["WRITE"], "the label outbox"),
    topic("ingest", t.events, ["WRITE"], "the event outbox (case resolutions, rule activations)"),
    topic("ingest", t.decisions, ["READ"], "sync answers (Prefer: wait)"),
    topic("ingest", t.dlq, ["READ"], "sync answers for dead-lettered transactions"),
    groupRow(
      "ingest",
      `${group}-ingest-waits`,
      "prefixed",
      ["READ", "DELETE"],
      "the decision listener's own group",
    ),
    topic("scorer", t.transactions, ["READ"], "scoring"),
    topic("scorer", t.decisions, ["WRITE"], "decisions"),
    topic("scorer", t.dlq, ["WRITE"], "dead letters"),
    groupRow("scorer", group, "literal", ["READ"], "the scorer's consumer group"),
    topic("webhooks", t.decisions, ["READ"], "decision events"),
    topic("webhooks", t.labels, ["READ"], "label events"),
    topic("webhooks", t.events, ["READ"], "case and rule events"),
    topic("webhooks", t.dlq, ["WRITE"], "events that fail their schema"),
    groupRow("webhooks", `${group}-webhooks`, "literal", ["READ"], "the webhook intake's group"),
    topic("operator", t.transactions, ["READ", "WRITE"], "replay, redrive, simulate"),
    topic("operator", t.decisions, ["READ", "WRITE"], "replay publishes the decisions it stores"),
    topic("operator", t.dlq, ["READ", "WRITE"], "sentinel dlq; replay dead-letters poison"),
    groupRow(
      "operator",
      group,
      "literal",
      ["READ", "DESCRIBE"],
      "sentinel offsets (the scorer's lag, resets)",
    ),
    ...["sentinel-replay", "sentinel-dlq", "sentinel-tool"].map((prefix) =>
      groupRow("operator", prefix, "prefixed", ["READ", "DELETE"], "the range reader's own groups"),
    ),
    {
      process: "init",
      resource: "cluster",
      name: "kafka-cluster",
      pattern: "literal",
      operations: ["CREATE", "DESCRIBE"],
      why: "sentinel init creates the topics",
    },
    ...Object.values(t).map((name) =>
      topic("init", name, ["DESCRIBE_CONFIGS", "ALTER_CONFIGS"], "sentinel init sets retention"),
    ),
  ];
}

const RESOURCE = {
  topic: AclResourceTypes.TOPIC,
  group: AclResourceTypes.GROUP,
  cluster: AclResourceTypes.CLUSTER,
} as const;

/** The rows of one process as kafkajs ACL entries for `principal` (User:<name>). */
export function aclEntries(
  rows: readonly AclRow[],
  principals: Partial<Record<KafkaProcess, string>>,
): AclEntry[] {
  return rows.flatMap((row) => {
    const user = principals[row.process];
    if (user === undefined) return [];
    return row.operations.map((op) => ({
      resourceType: RESOURCE[row.resource],
      resourceName: row.name,
      resourcePatternType:
        row.pattern === "literal" ? ResourcePatternTypes.LITERAL : ResourcePatternTypes.PREFIXED,
      principal: `User:${user}`,
      host: "*",
      operation: AclOperationTypes[op],
      permissionType: AclPermissionTypes.ALLOW,
    }));
  });
}

/** `kafka-acls.sh` commands that grant the table to the given principals (printed by the CLI). */
export function aclCommands(
  rows: readonly AclRow[],
  principals: Partial<Record<KafkaProcess, string>>,
): string[] {
  return rows.flatMap((row) => {
    const user = principals[row.process];
    if (user === undefined) return [];
    const target =
      row.resource === "cluster"
        ? "--cluster"
        : `--${row.resource} '${row.name}'${row.pattern === "prefixed" ? " --resource-pattern-type prefixed" : ""}`;
    const ops = row.operations.map(
      (o) =>
        `--operation ${o === "DESCRIBE_CONFIGS" ? "DescribeConfigs" : o === "ALTER_CONFIGS" ? "AlterConfigs" : o[0] + o.slice(1).toLowerCase()}`,
    );
    return [
      `kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --command-config admin.properties --add --allow-principal 'User:${user}' ${ops.join(" ")} ${target}   # ${row.process}: ${row.why}`,
    ];
  });
}

/** Applies the ACLs of the given principals (an admin that may alter ACLs). Idempotent. */
export async function applyAcls(
  admin: Admin,
  rows: readonly AclRow[],
  principals: Partial<Record<KafkaProcess, string>>,
): Promise<number> {
  const acl = aclEntries(rows, principals);
  if (acl.length > 0) await admin.createAcls({ acl });
  return acl.length;
}

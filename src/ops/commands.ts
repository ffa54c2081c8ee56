/*
 * The operator commands (replay, dlq list/redrive, offsets, schemas register, rules, lists, rule
 * performance), loaded by the CLI only
 * for those commands. Each prints a human summary on stdout (or JSON with --json) and logs to
 * stderr; exit code 1 with a one-line reason on a refused or failed operation.
 */

export { auditCommand } from "../audit/audit-command.ts";
export { rulesPerformanceCommand } from "../cases/rule-performance-command.ts";
export { listsCommand, rulesCommand } from "../rules/rules-command.ts";
export { type DlqCliOptions, dlqListCommand, dlqRedriveCommand } from "./dlq-command.ts";
export { offsetsCommand } from "./offsets-command.ts";
export { type ReplayCliOptions, replayCommand } from "./replay-command.ts";
export { schemasRegisterCommand } from "./schemas-command.ts";

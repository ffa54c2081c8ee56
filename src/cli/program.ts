import { Command } from "commander";
import { addChangesCommands } from "./changes-commands.ts";
import { addModelCommands } from "./model-commands.ts";
import { addDeploymentCommands, addOperatorCommands } from "./operator-commands.ts";
import { addListsCommands, addRulesCommands } from "./rules-commands.ts";
import { addRunCommands, addStackCommands } from "./run-commands.ts";
import { addWebhooksCommands } from "./webhooks-commands.ts";

/** `sentinel`: every command, by group. */
export function buildProgram(): Command {
  const program = new Command("sentinel")
    .description("SentinelStream: real-time fraud scoring for payment transactions")
    .version("0.1.0")
    .showHelpAfterError();
  addRunCommands(program);
  addOperatorCommands(program);
  addDeploymentCommands(program);
  addRulesCommands(program);
  addListsCommands(program);
  addModelCommands(program);
  addChangesCommands(program);
  addWebhooksCommands(program);
  addStackCommands(program);
  return program;
}

import type { Command } from "commander";
import type { WebhooksAction, WebhooksCliOptions } from "../webhooks/webhooks-command.ts";
import { withArgs, withConfig } from "./actions.ts";
import { serve } from "./serve.ts";

/** `sentinel webhooks`: the delivery process (the default), endpoints and deliveries. */
export function addWebhooksCommands(program: Command): void {
  const webhooks = program
    .command("webhooks")
    .description("signed webhooks (Standard Webhooks): the delivery process, endpoints, deliveries");
  webhooks
    .command("run", { isDefault: true })
    .description("run the webhook delivery only (its own consumer group; part of `sentinel all`)")
    .action(withConfig((c, l) => serve(c, l, { ingest: false, consumer: false, webhooks: true })));
  const act = (action: WebhooksAction) =>
    withArgs<WebhooksCliOptions>(async (c, l, positional, opts) =>
      (await import("../webhooks/webhooks-command.ts")).webhooksCommand(c, l, action, positional, opts),
    );
  webhooks
    .command("add <url>")
    .description("add an endpoint; prints its signing secret once")
    .requiredOption(
      "--events <types>",
      "comma-separated: decision.declined,decision.review,decision.approved,case.opened,case.resolved,label.created,rules.activated",
    )
    .option("--description <text>")
    .option("--json")
    .action(act("add"));
  webhooks.command("list").description("every endpoint").option("--json").action(act("list"));
  webhooks.command("show <id>").description("one endpoint").action(act("show"));
  webhooks
    .command("update <id>")
    .description("change an endpoint's url, events, description; enable or disable it")
    .option("--url <url>")
    .option("--events <types>")
    .option("--description <text>")
    .option("--enable")
    .option("--disable")
    .option("--json")
    .action(act("update"));
  webhooks
    .command("delete <id>")
    .description("delete an endpoint and its delivery log")
    .action(act("delete"));
  webhooks
    .command("rotate-secret <id>")
    .description(
      "a new signing secret; the old one keeps signing beside it for WEBHOOK_SECRET_OVERLAP_MS (24 h)",
    )
    .option("--overlap-ms <ms>", "how long the old secret keeps signing (0: revoke it at once)")
    .option("--json")
    .action(act("rotate-secret"));
  webhooks
    .command("deliveries <id>")
    .description("an endpoint's deliveries, newest first")
    .option("--status <status>", "pending, delivered or failed")
    .option("--limit <n>")
    .option("--json")
    .action(act("deliveries"));
  webhooks
    .command("redeliver <delivery-id>")
    .description("send a delivery again now (same webhook-id)")
    .action(act("redeliver"));
  webhooks
    .command("replay")
    .description(
      "send again every delivery to an endpoint whose event is in [since, until) (same webhook-ids)",
    )
    .requiredOption("--endpoint <id>")
    .requiredOption("--since <time>", "RFC 3339, e.g. 2026-12-01T00:00:00Z")
    .option("--until <time>")
    .option("--json")
    .action(act("replay"));
}

import { z } from "zod";
import { DecisionSchema } from "./domain/decision.ts";
import { createTransactionSchema } from "./domain/transaction.ts";
import { RuleSetSchema } from "./rules/rule-language.ts";

/*
 * The JSON Schemas in schemas/ are generated from the zod schemas (npm run schemas), and a unit
 * test fails when the files and the zod schemas disagree, so they cannot drift.
 */

function generate(schema: z.ZodType, id: string, title: string, description: string) {
  return {
    $id: id,
    title,
    description,
    ...z.toJSONSchema(schema, { io: "input", unrepresentable: "any", target: "draft-7" }),
  };
}

export function jsonSchemas(): Record<string, unknown> {
  return {
    "transaction.v1.json": generate(
      createTransactionSchema(),
      "https://sentinelstream.dev/schemas/transaction.v1.json",
      "Transaction v1",
      "A payment transaction on the `transactions` topic (key: user_id). Beyond this schema: amount may " +
        "not have more fraction digits than the currency's ISO 4217 minor unit; timestamp may not be more " +
        "than 5 minutes ahead of, nor more than 7 days (configurable) before, the message's Kafka timestamp; " +
        "no key or value may contain a card number (13-19 digits passing Luhn, grouped or inside text).",
    ),
    "ruleset.v1.json": generate(
      RuleSetSchema,
      "https://sentinelstream.dev/schemas/ruleset.v1.json",
      "Rule set v1",
      "A SentinelStream rule set: thresholds and rules whose `when` is an expression tree (README, The rule language). " +
        "Beyond this schema: review must not exceed decline, and rule ids are unique.",
    ),
    "decision.v1.json": generate(
      DecisionSchema,
      "https://sentinelstream.dev/schemas/decision.v1.json",
      "Decision v1",
      "A scoring decision on `transactions.decisions` (key: user_id). At-least-once: dedupe by transaction_id.",
    ),
  };
}

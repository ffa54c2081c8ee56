import { z } from "zod";

/** A scoring outcome as published on `transactions.decisions` (schemas/decision.v1.json). */
export const DECISIONS = ["approve", "review", "decline"] as const;
export type DecisionOutcome = (typeof DECISIONS)[number];

export const DecisionSchema = z.strictObject({
  transaction_id: z.uuid(),
  user_id: z.string().min(1).max(64),
  decision: z.enum(DECISIONS),
  score: z.int().min(0).max(100),
  reasons: z.array(z.string()),
  rules_version: z.string().min(1),
  decided_at: z.iso.datetime({ offset: true }),
});

export type Decision = z.output<typeof DecisionSchema>;

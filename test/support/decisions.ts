import type { Decision } from "../../src/domain/decision.ts";
import type { Transaction } from "../../src/domain/transaction.ts";

/** An approve decision of `tx` (rules_version "test"), for tests that store rows through storeDecided. */
export const approved = (tx: Transaction, decidedMs: number): Decision => ({
  transaction_id: tx.transaction_id,
  user_id: tx.user_id,
  decision: "approve",
  score: 0,
  reasons: [],
  rules_version: "test",
  decided_at: new Date(decidedMs).toISOString(),
});

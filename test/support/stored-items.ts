import { randomUUID } from "node:crypto";
import type { Decision } from "../../src/domain/decision.ts";
import type { SourcedTransaction, Transaction } from "../../src/domain/transaction.ts";

/**
 * One transaction as the scorer hands it to storeDecided (its source position and its decision),
 * for tests and benches that store rows without a scorer. `review` opens a case, as a live review.
 */
export function storedItem({
  userId,
  receivedMs,
  partition = 0,
  offset,
  amount = "42.50",
  index = offset,
  review = false,
  rulesVersion = "rs-bench",
}: {
  userId: string;
  receivedMs: number;
  partition?: number;
  offset: number;
  amount?: string;
  /** Picks the merchant and the device (several users share each). */
  index?: number;
  review?: boolean;
  rulesVersion?: string;
}): { source: SourcedTransaction; decision: Decision } {
  const tx = {
    transaction_id: randomUUID(),
    user_id: userId,
    amount,
    currency: "USD",
    merchant_id: `m-${index % 300}`,
    merchant_category: "5411",
    country: "US",
    channel: "ecommerce",
    device_id: `d-${index % 7_000}`,
    ip: "192.0.2.10",
  } as Transaction;
  return {
    source: { tx, eventTimeMs: receivedMs, receivedMs, partition, offset },
    decision: {
      transaction_id: tx.transaction_id,
      user_id: userId,
      decision: review ? "review" : "approve",
      score: review ? 55 : 5,
      reasons: review ? ["amount_over_limit"] : [],
      rules_version: rulesVersion,
      decided_at: new Date(receivedMs + 20).toISOString(),
    },
  };
}

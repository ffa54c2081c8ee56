import type { FastifyInstance } from "fastify";
import { z } from "zod";
import {
  createTransactionInputSchema,
  type Transaction,
  validateTransaction,
} from "../../domain/transaction.ts";
import { SentinelError } from "../../errors.ts";
import type { Metrics } from "../../metrics.ts";
import type { StoredTransaction } from "../../store/transaction-store.ts";
import { errorSchema, transactionInputJsonSchema, validationErrorSchema } from "../openapi.ts";
import { uuidv7 } from "../uuid-v7.ts";

export type TransactionRoutesDeps = {
  /** Resolves once the transaction is durable on the topic (acks=all); throws SentinelError otherwise. */
  publishTransaction: (tx: Transaction) => Promise<void>;
  transactions: { getTransaction(id: string): Promise<StoredTransaction | null> };
  metrics: Metrics;
  /** A `timestamp` older than this before receipt is refused (TIMESTAMP_MAX_AGE_HOURS). */
  timestampMaxAgeMs?: number;
  now?: () => number;
  newId?: () => string;
};

const Id = z.uuid();

export function registerTransactionRoutes(app: FastifyInstance, deps: TransactionRoutesDeps): void {
  const now = deps.now ?? Date.now;
  const newId = deps.newId ?? uuidv7;
  const schema = createTransactionInputSchema(now, deps.timestampMaxAgeMs);
  const { accepted, rejected } = deps.metrics.http;

  app.post(
    "/transaction",
    {
      schema: {
        summary: "Submit one transaction for scoring",
        description:
          "Answers 202 only once Kafka has acknowledged the write (acks=all). Retrying with the same " +
          "transaction_id is safe: it is the idempotency key.",
        security: [{ apiKey: [] }],
        body: transactionInputJsonSchema,
        response: {
          202: {
            type: "object",
            properties: {
              transaction_id: { type: "string" },
              status: { type: "string", enum: ["accepted"] },
            },
          },
          400: validationErrorSchema,
          401: errorSchema,
          413: errorSchema,
          415: errorSchema,
          503: {
            type: "object",
            properties: {
              error: { type: "string" },
              message: { type: "string" },
              transaction_id: { type: "string" },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const result = validateTransaction(schema, request.body);
      if (!result.ok) {
        rejected.inc({ reason: result.code });
        return reply.code(400).send({ error: result.code, issues: result.issues });
      }
      const input = result.value;
      const tx: Transaction = {
        ...input,
        transaction_id: input.transaction_id ?? newId(),
        timestamp: input.timestamp ?? new Date(now()).toISOString(),
      };
      try {
        await deps.publishTransaction(tx);
      } catch (error) {
        rejected.inc({ reason: "unavailable" });
        request.log.warn(
          { err: (error as Error).message, transaction_id: tx.transaction_id },
          "produce failed",
        );
        // The id goes back so the client can retry without creating a second transaction.
        return reply
          .code(503)
          .header("retry-after", "1")
          .send({
            error: "unavailable",
            message: error instanceof SentinelError ? error.message : "Kafka unavailable",
            transaction_id: tx.transaction_id,
          });
      }
      accepted.inc();
      return reply.code(202).send({ transaction_id: tx.transaction_id, status: "accepted" });
    },
  );

  app.get<{ Params: { id: string } }>(
    "/transaction/:id",
    {
      schema: {
        summary: "A stored transaction with its decision",
        security: [{ apiKey: [] }],
        params: { type: "object", properties: { id: { type: "string", format: "uuid" } } },
        response: { 400: validationErrorSchema, 404: errorSchema },
      },
    },
    async (request, reply) => {
      if (!Id.safeParse(request.params.id).success) {
        return reply
          .code(400)
          .send({ error: "validation_failed", issues: [{ path: "id", message: "must be a UUID" }] });
      }
      const stored = await deps.transactions.getTransaction(request.params.id.toLowerCase());
      if (!stored) return reply.code(404).send({ error: "not_found", message: "unknown transaction" });
      // Absent optional fields are left out, as they were sent.
      return Object.fromEntries(Object.entries(stored).filter(([, v]) => v !== null));
    },
  );
}

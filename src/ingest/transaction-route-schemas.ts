import { errorSchema, transactionInputJsonSchema, validationErrorSchema } from "../http/openapi.ts";

/*
 * The OpenAPI description of POST /transaction and GET /transaction/:id (transactions-plugin.ts):
 * the document at /docs/json and the answers' fast serialization. The body is validated by zod in
 * the handler (one schema for HTTP and Kafka).
 */

const decisionBody = {
  type: "object",
  properties: {
    decision: { type: "string", enum: ["approve", "review", "decline"] },
    score: { type: "integer" },
    reasons: { type: "array", items: { type: "string" } },
    rules_version: { type: "string" },
    decided_at: { type: "string", format: "date-time" },
  },
};

const preferHeader = {
  type: "object",
  properties: {
    prefer: {
      type: "string",
      description:
        "RFC 7240 `wait=N` (seconds, decimals allowed, capped by SYNC_WAIT_MAX_MS): answer with the " +
        "decision if it comes within N seconds, else as without it.",
    },
  },
};

/** POST /transaction in the OpenAPI document. */
export const postSchema = {
  summary: "Submit one transaction for scoring",
  description:
    "Answers 202 only once Kafka has acknowledged the write (acks=all). Retrying with the same " +
    "transaction_id is safe: it is the idempotency key. With `Prefer: wait=N`, answers 200 with " +
    "the decision when it comes within N seconds (and `Preference-Applied`), else the same 202; " +
    "409 when the transaction_id is already used by another payload.",
  security: [{ apiKey: [] }],
  headers: preferHeader,
  body: transactionInputJsonSchema,
  response: {
    200: {
      description: "Decided within the wait (Prefer: wait)",
      type: "object",
      properties: {
        transaction_id: { type: "string" },
        status: { type: "string", enum: ["decided"] },
        decision: decisionBody,
      },
    },
    202: {
      description: "Durable in Kafka; the decision follows (GET /transaction/:id)",
      type: "object",
      properties: {
        transaction_id: { type: "string" },
        status: { type: "string", enum: ["accepted"] },
      },
    },
    400: validationErrorSchema,
    401: errorSchema,
    409: {
      description: "Prefer: wait only: the transaction_id is stored with another payload",
      type: "object",
      properties: {
        error: { type: "string", enum: ["transaction_id_conflict"] },
        message: { type: "string" },
        transaction_id: { type: "string" },
      },
    },
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
};

/** GET /transaction/:id in the OpenAPI document. */
export const getSchema = {
  summary: "A stored transaction with its decision",
  description:
    "With `Prefer: wait=N`, long-polls: answers as soon as the transaction is stored with its " +
    "decision (even if it was not yet when asked), else 404 after N seconds.",
  security: [{ apiKey: [] }],
  headers: preferHeader,
  params: { type: "object", properties: { id: { type: "string", format: "uuid" } } },
  response: { 400: validationErrorSchema, 404: errorSchema },
};

import { z } from "zod";
import { ProfileInputSchema } from "../domain/profile.ts";
import { createTransactionInputSchema } from "../domain/transaction.ts";

/*
 * JSON Schemas for the OpenAPI document, generated from the zod schemas (the single source).
 * Cross-field rules (fraction digits per currency, PAN refusal, future timestamps) are enforced by
 * zod and described in text here.
 */

/** A request schema (body, query string) for the OpenAPI document, from its zod schema. */
export const jsonSchemaOf = (schema: z.ZodType) =>
  z.toJSONSchema(schema, { io: "input", unrepresentable: "any", target: "draft-7" }) as Record<
    string,
    unknown
  >;

export const transactionInputJsonSchema = {
  ...jsonSchemaOf(createTransactionInputSchema()),
  description:
    "amount may not have more fraction digits than the currency's ISO 4217 minor unit; " +
    "timestamp may not be more than 5 minutes ahead; no value may look like a card number (pan_not_allowed).",
};
export const profileInputJsonSchema = jsonSchemaOf(ProfileInputSchema);

export const errorSchema = {
  type: "object",
  properties: { error: { type: "string" }, message: { type: "string" } },
};

export const validationErrorSchema = {
  type: "object",
  properties: {
    error: { type: "string", enum: ["validation_failed", "pan_not_allowed", "malformed_json"] },
    message: { type: "string" },
    issues: {
      type: "array",
      items: { type: "object", properties: { path: { type: "string" }, message: { type: "string" } } },
    },
  },
};

import type { z } from "zod";
import { toIssues } from "../domain/transaction.ts";
import { SentinelError } from "../errors.ts";

/*
 * Request parsing for the routes: zod validates (one schema for HTTP and Kafka), and a refusal is
 * thrown as SentinelError(validation_failed) with an issue per bad field, which the error handler
 * answers as 400 {error, issues}.
 */

/** A body or query string. @throws SentinelError(validation_failed) naming each bad field. */
export function parseRequest<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new SentinelError("validation_failed", "invalid request", { issues: toIssues(parsed.error) });
}

/** One path parameter. @throws SentinelError(validation_failed) with the issue at `name`. */
export function parseParam<S extends z.ZodType>(schema: S, value: unknown, name: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new SentinelError("validation_failed", `invalid ${name}`, {
    issues: [{ path: name, message: parsed.error.issues[0]?.message ?? "invalid" }],
  });
}

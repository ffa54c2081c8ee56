import {
  DataIntegrityError,
  IntegrityConstraintViolationError,
  InvalidInputError,
  SchemaValidationError,
} from "slonik";
import { SentinelError } from "../errors.ts";

/**
 * The one place slonik errors become ours. Only PostgreSQL refusing the data itself — a data
 * exception (SQLSTATE class 22: a value out of range, invalid text) or an integrity violation
 * (class 23: a constraint) — is not retryable: a message can cause those, and the consumer narrows
 * a refused chunk down to the message (which it dead-letters as store_rejected). Everything else
 * is PostgreSQL being unavailable to us, retried, never a reason to dead-letter: refused or broken
 * connections (08), a missing permission (42501) or object (42P01, a migration not applied), a
 * read-only server (25006), resources (53), an operator's intervention (57), a conflict (40), and
 * the statement-level errors of class 42 (they come from our code or schema, not from a message).
 */
export function translateDbError(error: unknown, what: string): SentinelError {
  if (error instanceof SentinelError) return error;
  const sqlState = (error as { code?: unknown } | null)?.code;
  const refusedData =
    typeof sqlState === "string"
      ? /^(22|23)[0-9A-Z]{3}$/.test(sqlState)
      : error instanceof IntegrityConstraintViolationError ||
        error instanceof InvalidInputError ||
        error instanceof DataIntegrityError ||
        error instanceof SchemaValidationError;
  if (refusedData) {
    return new SentinelError("internal", `${what}: ${(error as Error).message}`, { cause: error });
  }
  const detail = typeof sqlState === "string" ? ` (SQLSTATE ${sqlState})` : "";
  return new SentinelError("store_unavailable", `${what}: PostgreSQL unavailable${detail}`, { cause: error });
}
export async function withDbErrors<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw translateDbError(error, what);
  }
}

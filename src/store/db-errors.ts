import {
  DataIntegrityError,
  InputSyntaxError,
  IntegrityConstraintViolationError,
  InvalidInputError,
  SchemaValidationError,
} from "slonik";
import { SentinelError } from "../errors.ts";

/**
 * The one place slonik errors become ours. A row or statement PostgreSQL refuses (data exception,
 * integrity violation, syntax: SQLSTATE classes 22, 23, 42) is not retryable; everything else —
 * refused connections, terminated backends, timeouts — is PostgreSQL being unavailable, which
 * callers retry.
 */
export function translateDbError(error: unknown, what: string): SentinelError {
  if (error instanceof SentinelError) return error;
  const sqlState = (error as { code?: unknown } | null)?.code;
  if (
    // PostgreSQL refused the data or the statement (classes 22, 23, 42): retrying cannot help.
    (typeof sqlState === "string" && /^(22|23|42)[0-9A-Z]{3}$/.test(sqlState)) ||
    error instanceof IntegrityConstraintViolationError ||
    error instanceof InvalidInputError ||
    error instanceof InputSyntaxError ||
    error instanceof DataIntegrityError ||
    error instanceof SchemaValidationError
  ) {
    return new SentinelError("internal", `${what}: ${(error as Error).message}`, { cause: error });
  }
  return new SentinelError("store_unavailable", `${what}: PostgreSQL unavailable`, { cause: error });
}

export async function withDbErrors<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw translateDbError(error, what);
  }
}

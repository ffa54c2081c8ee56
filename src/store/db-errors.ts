import {
  DataIntegrityError,
  InputSyntaxError,
  IntegrityConstraintViolationError,
  InvalidInputError,
  SchemaValidationError,
} from "slonik";
import { SentinelError } from "../errors.ts";

/**
 * The one place slonik errors become ours. A broken statement or row is a bug (not retryable);
 * everything else — refused connections, terminated backends, timeouts — is PostgreSQL being
 * unavailable, which callers retry.
 */
export function translateDbError(error: unknown, what: string): SentinelError {
  if (error instanceof SentinelError) return error;
  if (
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

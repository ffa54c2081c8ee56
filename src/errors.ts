/**
 * The one error catalogue. Every error that crosses a module boundary is a SentinelError with a
 * stable `code` from the closed list below, and every HTTP error body carries one of these codes
 * (src/http/error-handler.ts maps them, in one place). `retryable` drives the consumer: retryable →
 * back off and do not commit; not retryable → the message is poison and is dead-lettered.
 */
export const ERROR_CODES = {
  config_invalid: { status: 500, retryable: false },
  validation_failed: { status: 400, retryable: false },
  pan_not_allowed: { status: 400, retryable: false },
  malformed_json: { status: 400, retryable: false },
  unsupported_media_type: { status: 415, retryable: false },
  payload_too_large: { status: 413, retryable: false },
  bad_request: { status: 400, retryable: false },
  unauthorized: { status: 401, retryable: false },
  forbidden: { status: 403, retryable: false },
  /** Too many requests, or streams, for one key (issue 35): slow down, then try again. */
  rate_limited: { status: 429, retryable: false },
  not_found: { status: 404, retryable: false },
  /** POST /transaction with Prefer: wait: the id is stored with another payload. */
  transaction_id_conflict: { status: 409, retryable: false },
  case_claimed: { status: 409, retryable: false },
  case_resolved: { status: 409, retryable: false },
  /** A release or a resolve of a case nobody claimed: claim it first. */
  case_not_claimed: { status: 409, retryable: false },
  no_profile: { status: 409, retryable: false },
  nothing_to_roll_back: { status: 409, retryable: false },
  /** Four eyes (issue 37): the change was approved, rejected or expired already. */
  change_not_pending: { status: 409, retryable: false },
  /** Four eyes: what the change was proposed against moved (another activation): propose it again. */
  change_stale: { status: 409, retryable: false },
  decode_failed: { status: 400, retryable: false },
  unavailable: { status: 503, retryable: true },
  store_unavailable: { status: 503, retryable: true },
  cache_unavailable: { status: 503, retryable: true },
  broker_unavailable: { status: 503, retryable: true },
  registry_unavailable: { status: 503, retryable: true },
  /** Kafka refused this process at start (TLS, credentials, ACLs: issue 34); not a transient error. */
  broker_refused: { status: 503, retryable: false },
  internal: { status: 500, retryable: false },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export type Issue = { path: string; message: string };

export class SentinelError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly issues: readonly Issue[] | undefined;
  /** Extra fields of the HTTP error body (the transaction_id of a 503, the role a 403 needed). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; issues?: readonly Issue[]; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SentinelError";
    this.code = code;
    this.retryable = ERROR_CODES[code].retryable;
    this.issues = options.issues;
    this.details = options.details;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].status;
  }
}

export function isRetryable(error: unknown): boolean {
  return error instanceof SentinelError && error.retryable;
}

/** The HTTP status for any error: ours by code, Fastify's by statusCode, anything else 500. */
export function httpStatusOf(error: unknown): number {
  if (error instanceof SentinelError) return error.httpStatus;
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" && status >= 400 && status < 600 ? status : 500;
}

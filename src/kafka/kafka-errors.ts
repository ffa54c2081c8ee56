/*
 * kafkajs rarely throws the broker's error itself: its retrier wraps it (KafkaJSNonRetriableError,
 * KafkaJSNumberOfRetriesExceeded) with the error under it as `cause` (older paths: `originalError`),
 * and a request may wrap a connection error again. What a caller asks ("is this a rebalance?",
 * "was the node unreachable?") is asked of every error in that chain.
 */

type Wrapped = {
  name?: unknown;
  type?: unknown;
  message?: unknown;
  cause?: unknown;
  originalError?: unknown;
};

/** Whether `test` holds for the error or any error it wraps (at most 6 deep). */
export function someCause(error: unknown, test: (e: Wrapped) => boolean): boolean {
  for (let e = error as Wrapped | undefined, depth = 0; e && depth < 6; depth++) {
    if (test(e)) return true;
    e = (e.cause ?? e.originalError) as Wrapped | undefined;
  }
  return false;
}

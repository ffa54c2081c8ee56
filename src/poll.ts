import { setTimeout as sleep } from "node:timers/promises";

/*
 * The waiting shapes of the code base, once: an exponential backoff between retries of a fault
 * (consumer chunks, replay, connects), a bounded poll until something is true (a broker or
 * registry answering, topic leaders, a process gone, a test's expectation), and a deadline on one
 * awaited thing (a produce batch, a connect, an admin call).
 */

/** base·2^attempt ms, capped at maxMs (attempt 1 → 2·base). */
export function backoffMs(
  attempt: number,
  { baseMs = 100, maxMs = 5_000 }: { baseMs?: number; maxMs?: number } = {},
) {
  return Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt, 0), 20));
}

/**
 * Calls `probe` every `everyMs` until it returns something other than `undefined` or `false`, and
 * returns that; returns `undefined` once `timeoutMs` has passed (the probe is asked one last time).
 * A probe that throws counts as "not yet"; its last error is handed to `onTimeout`, if given,
 * which may throw a better one.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  {
    timeoutMs,
    everyMs = 100,
    onTimeout,
  }: { timeoutMs: number; everyMs?: number; onTimeout?: (lastError: unknown) => never },
): Promise<Exclude<T, false> | undefined> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const last = Date.now() >= deadline;
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as Exclude<T, false>;
    } catch (error) {
      lastError = error;
    }
    if (last) break;
    await sleep(Math.max(0, Math.min(everyMs, deadline - Date.now())));
  }
  if (onTimeout) onTimeout(lastError);
  return undefined;
}

/**
 * Runs `attempt` until it succeeds or `stopped()` says to give up, backing off between tries (125 ms
 * doubling to 2 s) and reporting only the first failure: the shape of every "keep connecting in the
 * background" of a process that must start (and answer 503) while Kafka is away.
 */
export async function retryInBackground(
  attempt: () => Promise<void>,
  { stopped, onFirstFailure }: { stopped: () => boolean; onFirstFailure: (error: Error) => void },
): Promise<boolean> {
  for (let n = 1; !stopped(); n++) {
    try {
      await attempt();
      return true;
    } catch (error) {
      if (n === 1) onFirstFailure(error as Error);
      await sleep(backoffMs(n, { baseMs: 125, maxMs: 2_000 }));
    }
  }
  return false;
}

/**
 * `promise`, or the error `onTimeout()` makes once `ms` have passed, whichever comes first. The
 * timer is cleared either way; the promise itself runs on (a deadline ends the waiting, not the
 * work), and its later failure is handled.
 */
export async function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

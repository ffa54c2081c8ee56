/*
 * When a failed delivery is tried again (issue 23): the Standard Webhooks schedule — 5 s, 5 min,
 * 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h after each failure — with ±10 % jitter so that an
 * endpoint coming back is not hit by every retry at once, and never sooner than the receiver's
 * `Retry-After`. After the last, the delivery has failed (an operator may redeliver it). The
 * schedule itself is config (WEBHOOK_RETRY_SCHEDULE, defaulting to the spec's).
 */

/** A receiver's Retry-After (seconds, or an HTTP date) in ms from `nowMs`; undefined when absent or unreadable. */
export function retryAfterMs(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * The delay before the next attempt after `attempts` failed ones, or undefined when the schedule is
 * spent. `random` in [0, 1) gives the jitter; Retry-After is honoured up to the schedule's last step.
 */
export function nextDelayMs(
  schedule: readonly number[],
  attempts: number,
  { retryAfter, random = Math.random }: { retryAfter?: number; random?: () => number } = {},
): number | undefined {
  const base = schedule[attempts - 1];
  if (base === undefined) return undefined;
  const jittered = Math.round(base * (0.9 + 0.2 * random()));
  const ceiling = schedule.at(-1) ?? base;
  return Math.max(jittered, Math.min(retryAfter ?? 0, ceiling));
}

import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.ts";
import { nextDelayMs, retryAfterMs } from "../../../src/webhooks/retry-schedule.ts";

/** The schedule a deployment gets without WEBHOOK_RETRY_SCHEDULE. */
const DEFAULT_SCHEDULE_MS = loadConfig({}).webhooks.retryScheduleMs;

describe("retry schedule", () => {
  it("follows the Standard Webhooks schedule, with ±10 % jitter, and ends after the last step", () => {
    expect(DEFAULT_SCHEDULE_MS.map((ms) => ms / 1000)).toEqual([
      5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400,
    ]);
    expect(nextDelayMs(DEFAULT_SCHEDULE_MS, 1, { random: () => 0.5 })).toBe(5_000);
    expect(nextDelayMs(DEFAULT_SCHEDULE_MS, 1, { random: () => 0 })).toBe(4_500);
    expect(nextDelayMs(DEFAULT_SCHEDULE_MS, 2, { random: () => 0.999999 })).toBe(330_000);
    expect(nextDelayMs(DEFAULT_SCHEDULE_MS, 9, { random: () => 0.5 })).toBe(86_400_000);
    expect(nextDelayMs(DEFAULT_SCHEDULE_MS, 10)).toBeUndefined();
  });

  it("waits at least the receiver's Retry-After, up to the schedule's longest step", () => {
    expect(nextDelayMs(DEFAULT_SCHEDULE_MS, 1, { retryAfter: 60_000, random: () => 0.5 })).toBe(60_000);
    expect(nextDelayMs(DEFAULT_SCHEDULE_MS, 1, { retryAfter: 1_000, random: () => 0.5 })).toBe(5_000);
    expect(nextDelayMs(DEFAULT_SCHEDULE_MS, 1, { retryAfter: 10 * 86_400_000, random: () => 0.5 })).toBe(
      86_400_000,
    );
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-12-01T10:00:00Z");
    expect(retryAfterMs("120", now)).toBe(120_000);
    expect(retryAfterMs("Tue, 01 Dec 2026 10:01:00 GMT", now)).toBe(60_000);
    expect(retryAfterMs("Tue, 01 Dec 2026 09:00:00 GMT", now)).toBe(0);
    expect(retryAfterMs("soon", now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });
});

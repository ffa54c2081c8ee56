import { describe, expect, it } from "vitest";
import { outcomeOf } from "../../../src/webhooks/dispatcher.ts";

const claimed = {
  deliveryId: 1,
  endpointId: "ep",
  messageId: "msg",
  body: "{}",
  eventAtMs: 0,
  lease: "2026-12-01 00:00:00.5+00",
};
const attempt = { latencyMs: 5, error: undefined, retryAfterMs: undefined };
const schedule = [1_000, 2_000];

describe("what an attempt means for its delivery", () => {
  it("retries a failure on the schedule, gives up after it, and never retries a 410", () => {
    const now = Date.now();
    const first = outcomeOf(
      schedule,
      { ...claimed, attempt: 1 },
      { ...attempt, ok: false, status: 500 },
      now,
    );
    expect(first.nextAttemptAtMs! - now).toBeGreaterThanOrEqual(900);
    expect(first.nextAttemptAtMs! - now).toBeLessThan(1_200);
    const spent = outcomeOf(
      schedule,
      { ...claimed, attempt: 3 },
      { ...attempt, ok: false, status: 500 },
      now,
    );
    expect(spent.nextAttemptAtMs).toBeUndefined();
    const gone = outcomeOf(schedule, { ...claimed, attempt: 1 }, { ...attempt, ok: false, status: 410 }, now);
    expect(gone.nextAttemptAtMs).toBeUndefined();
    const ok = outcomeOf(schedule, { ...claimed, attempt: 1 }, { ...attempt, ok: true, status: 200 }, now);
    expect(ok).toMatchObject({ ok: true, nextAttemptAtMs: undefined, attempt: 1, deliveryId: 1 });
  });
});

import { describe, expect, it } from "vitest";
import { forkTest, kafkajs, silentLogger } from "./kafkajs-under-test.ts";

/*
 * Fork change 1 (tulios/kafkajs#1704, #1751): an idle connection's request queue scheduled a
 * check with a negative delay, which Node runs after 1 ms, again and again: a 1 ms timer loop
 * per idle connection (CPU; Node 24's TimeoutNegativeWarning).
 */

type Queue = {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  scheduleCheckPendingRequests(): void;
  checkPendingRequests(): void;
};
const RequestQueue = kafkajs<new (options: Record<string, unknown>) => Queue>(
  "src/network/requestQueue/index.js",
);

function queue(): Queue {
  return new RequestQueue({
    maxInFlightRequests: 1,
    requestTimeout: 1_000,
    enforceRequestTimeout: false,
    clientId: "fork-test",
    broker: "127.0.0.1:9",
    logger: silentLogger,
  });
}

describe("kafkajs fork: the request queue of an idle connection", () => {
  forkTest("schedules nothing when nothing is pending and no throttle is in force", async () => {
    const q = queue();
    let checks = 0;
    q.checkPendingRequests = () => {
      checks++;
    };
    for (let i = 0; i < 3; i++) {
      q.scheduleCheckPendingRequests();
      await new Promise((r) => setTimeout(r, 5));
    }
    const scheduled = q.throttleCheckTimeoutId;
    if (scheduled) clearTimeout(scheduled);
    expect(scheduled).toBeNull();
    expect(checks).toBe(0);
  });

  it("still schedules a check when a request waits, or a throttle ends later", () => {
    const waiting = queue();
    waiting.pending.push({});
    waiting.scheduleCheckPendingRequests();
    const throttled = queue();
    throttled.throttledUntil = Date.now() + 60_000;
    throttled.scheduleCheckPendingRequests();
    const timers = [waiting.throttleCheckTimeoutId, throttled.throttleCheckTimeoutId];
    for (const t of timers) if (t) clearTimeout(t);
    expect(timers.every((t) => t !== null)).toBe(true);
  });
});

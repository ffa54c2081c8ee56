import { createRequire } from "node:module";

/*
 * kafkajs 2.2.4 (the last release) reschedules its request-queue check with a negative delay when
 * nothing is pending, which Node clamps to 1 ms: every idle connection then spins a 1 ms timer
 * loop, burning CPU, and Node 24 prints TimeoutNegativeWarning.
 * Upstream: tulios/kafkajs#1704 and #1751 (fix proposed in #1768, unmerged). We apply that fix:
 * with nothing pending and no throttle in force there is nothing to schedule — push() schedules
 * a check itself when a request has to wait. Remove this file when kafkajs ships the fix.
 */

type RequestQueue = {
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  pending: unknown[];
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
};

const require = createRequire(import.meta.url);
const { prototype } = require("kafkajs/src/network/requestQueue/index.js") as { prototype: RequestQueue };

const CHECK_PENDING_REQUESTS_INTERVAL = 10; // kafkajs's own constant

prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueue) {
  if (this.throttleCheckTimeoutId) return;
  let scheduleAt = this.throttledUntil - Date.now();
  if (this.pending.length > 0) {
    scheduleAt = scheduleAt > 0 ? scheduleAt : CHECK_PENDING_REQUESTS_INTERVAL;
  } else if (scheduleAt <= 0) {
    return;
  }
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, scheduleAt);
};

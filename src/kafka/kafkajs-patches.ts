import { createRequire } from "node:module";
import { setTimeout as pause } from "node:timers/promises";
import { backoffMs } from "../poll.ts";
import { createSendMessages } from "./kafkajs-send-messages.ts";

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
const PATCHED_GROUP = Symbol.for("sentinel.kafkajs-coordinator");
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

/*
 * A consumer whose group coordinator died heartbeats the dead node until its retries run out:
 * kafkajs caches the coordinator and looks for another only when it joins, so it retries the
 * dead one (~25 s with the scorer's budget), crashes, and restarts 5 s later — about 30 s without
 * scoring after the coordinator's node died (three-broker chaos run, issue 22). The Java client
 * forgets a coordinator it cannot reach and finds the new one. Here, a heartbeat that cannot reach
 * the coordinator fails as NOT_COORDINATOR (code 16), which kafkajs's runner answers by joining
 * again, and a join starts by finding the coordinator.
 */
type ConsumerGroup = { heartbeat(args: { interval: number }): Promise<void>; joinAndSync(): Promise<void> };
const { prototype: consumerGroup } = require("kafkajs/src/consumer/consumerGroup.js") as {
  prototype: ConsumerGroup & { [PATCHED_GROUP]?: true };
};
const { createErrorFromCode } = require("kafkajs/src/protocol/error.js") as {
  createErrorFromCode(code: number): Error & { cause?: unknown };
};
const UNREACHABLE = new Set([
  "KafkaJSConnectionError",
  "KafkaJSConnectionClosedError",
  "KafkaJSRequestTimeoutError",
]);
const NOT_COORDINATOR = 16;

/** A heartbeat that reports an unreachable coordinator as NOT_COORDINATOR (kafkajs then rejoins). */
function rejoiningHeartbeat(original: ConsumerGroup["heartbeat"]) {
  return async function heartbeat(this: ConsumerGroup, args: { interval: number }): Promise<void> {
    try {
      return await original.call(this, args);
    } catch (error) {
      if (!UNREACHABLE.has((error as Error).name)) throw error;
      const notCoordinator = createErrorFromCode(NOT_COORDINATOR);
      notCoordinator.cause = error;
      throw notCoordinator;
    }
  };
}

/*
 * The rejoin that follows (or any rejoin while a node is dead) asks for the coordinator, and until
 * the dead node is fenced the answer is still that node: kafkajs's joinAndSync gives up on the
 * refused connection at once (non-retriable), the consumer restarts as a new member, and the group's
 * next rebalance waits for the old member's session to expire (seen: 14.9 s without scoring after
 * the active controller's SIGKILL). Here a join that cannot reach the coordinator is tried again
 * with backoff, as the same member, for up to JOIN_PATIENCE_MS; then kafkajs's own failure stands.
 */
type Joining = Pick<ConsumerGroup, "joinAndSync">;
const JOIN_PATIENCE_MS = 20_000;

/** A joinAndSync that retries while the coordinator cannot be reached (bounded); exported for tests. */
export function patientJoin(
  original: (this: Joining) => Promise<void>,
  { patienceMs = JOIN_PATIENCE_MS, sleep = (ms: number): Promise<unknown> => pause(ms) } = {},
) {
  return async function joinAndSync(this: Joining): Promise<void> {
    const until = Date.now() + patienceMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await original.call(this);
      } catch (error) {
        if (!unreachable(error) || Date.now() >= until) throw error;
        await sleep(backoffMs(attempt, { baseMs: 200, maxMs: 2_000 }));
      }
    }
  };
}

/** Whether an error (or what it wraps) is a connection kafkajs could not make or keep. */
function unreachable(error: unknown): boolean {
  for (let e = error as (Error & { cause?: unknown }) | undefined, depth = 0; e && depth < 5; depth++) {
    if (UNREACHABLE.has(e.name)) return true;
    e = e.cause as typeof e;
  }
  return false;
}

if (!consumerGroup[PATCHED_GROUP]) {
  consumerGroup.heartbeat = rejoiningHeartbeat(consumerGroup.heartbeat);
  consumerGroup.joinAndSync = patientJoin(consumerGroup.joinAndSync);
  consumerGroup[PATCHED_GROUP] = true;
}

/*
 * The producer's sendMessages, replaced by ours (kafkajs-send-messages.ts: tulios/kafkajs#1303,
 * acknowledged messages never written after a leader moved). kafkajs binds it when its producer
 * module loads, so this must run before anything loads kafkajs: src/kafka/client.ts imports this
 * file first, and every entry point imports client.ts (or this file) before kafkajs. Loaded too
 * late it throws at start-up rather than leave the bug in place unnoticed.
 */
const sendMessagesPath = require.resolve("kafkajs/src/producer/sendMessages.js");
const messageProducerPath = require.resolve("kafkajs/src/producer/messageProducer.js");
const PATCHED = Symbol.for("sentinel.kafkajs-1303");
type Patched = { [PATCHED]?: true };
if (!(require(sendMessagesPath) as Patched)[PATCHED]) {
  if (require.cache[messageProducerPath]) {
    throw new Error(
      "kafkajs was loaded before src/kafka/kafkajs-patches.ts: its producer would keep the acknowledged-but-unwritten bug (kafkajs#1303); import the patches first",
    );
  }
  require.cache[sendMessagesPath]!.exports = Object.assign(createSendMessages, { [PATCHED]: true });
}

import { createRequire } from "node:module";
import { setTimeout as pause } from "node:timers/promises";
import { backoffMs } from "../poll.ts";
import { someCause } from "./kafka-errors.ts";
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
type ConsumerGroup = {
  heartbeat(args: { interval: number }): Promise<void>;
  joinAndSync(): Promise<void>;
  fetch(this: Fetching, nodeId: number): Promise<unknown[]>;
};
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
      if (!unreachable(error)) throw error;
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
  return someCause(error, (e) => UNREACHABLE.has(e.name as string));
}

/*
 * A fetch from a partition leader that cannot be reached (its node died) fails in kafkajs with a
 * connection error, which its runner answers by stopping every fetcher (the live leaders' too) and
 * starting them again after an exponential backoff (the scorer's: 0.3 s doubling to 5 s) during
 * which it sends no heartbeat: a consumer seen fetching again 5 s after the dead node was fenced,
 * and the group's rebalance waiting for it (three-broker chaos run, issue 22). Here such a fetch
 * waits FETCH_RETRY_MS, refreshes the metadata (which names the new leader once the dead node is
 * fenced) and returns no batches: kafkajs then heartbeats (so a rebalance, or a dead coordinator,
 * is noticed), rebuilds its fetchers when the leaders moved, and fetches again; the fetchers of
 * live leaders are left alone. Bounded: once a node has failed every fetch for FETCH_PATIENCE_MS,
 * kafkajs's own handling stands.
 */
type Fetching = {
  fetch(nodeId: number): Promise<unknown[]>;
  cluster: { refreshMetadata(): Promise<void> };
};
const FETCH_RETRY_MS = 250;
const FETCH_PATIENCE_MS = 20_000;

/** A fetch that waits out an unreachable leader instead of stopping every fetcher; exported for tests. */
export function patientFetch(
  original: (this: Fetching, nodeId: number) => Promise<unknown[]>,
  { patienceMs = FETCH_PATIENCE_MS, sleep = (ms: number): Promise<unknown> => pause(ms) } = {},
) {
  const failingSince = new WeakMap<Fetching, Map<number, number>>();
  return async function fetch(this: Fetching, nodeId: number): Promise<unknown[]> {
    try {
      const batches = await original.call(this, nodeId);
      failingSince.get(this)?.delete(nodeId);
      return batches;
    } catch (error) {
      if (!unreachable(error)) throw error;
      const since = failingSince.get(this) ?? new Map<number, number>();
      failingSince.set(this, since);
      const first = since.get(nodeId) ?? Date.now();
      if (Date.now() - first >= patienceMs) {
        since.delete(nodeId);
        throw error;
      }
      since.set(nodeId, first);
      await sleep(FETCH_RETRY_MS);
      await this.cluster.refreshMetadata().catch(() => undefined); // tried again on the next fetch
      return [];
    }
  };
}

/*
 * Static membership (KIP-345). kafkajs speaks JoinGroup v5, which carries a group_instance_id, but
 * never sends one. A consumer given an instance id (`CONSUMER_INSTANCE_ID`: one per process, kept
 * across its restarts, like a StatefulSet's pod name) that dies and is back within its session
 * timeout takes its partitions back without a rebalance: the coordinator replaces the dead member
 * with the new one and hands it the same assignment, while the rest of the group keeps consuming.
 * Without one, a SIGKILLed consumer's partitions wait for its session to expire and then for a
 * rebalance of the whole group (issue 22). The id is registered per group, for the one consumer of
 * that group in this process; its other requests need no id (the coordinator checks member ids).
 */
const instanceIds = new Map<string, string>();

/** Joins `groupId` from this process as the static member `instanceId`; returns the undo. */
export function joinAsStaticMember(groupId: string, instanceId: string): () => void {
  const current = instanceIds.get(groupId);
  if (current !== undefined && current !== instanceId) {
    throw new Error(`group ${groupId} already joins from this process as ${current}, not ${instanceId}`);
  }
  instanceIds.set(groupId, instanceId);
  return () => instanceIds.delete(groupId);
}

type JoinGroupArgs = { groupId: string; memberId?: string; protocolType?: string } & Record<string, unknown>;
type Broker = {
  joinGroup(args: JoinGroupArgs): Promise<unknown>;
  lookupRequest(apiKey: number, definition: unknown): (args: Record<string, unknown>) => unknown;
} & Record<symbol, (request: unknown) => Promise<unknown>>;
const { prototype: broker } = require("kafkajs/src/broker/index.js") as { prototype: Broker };
const { requests } = require("kafkajs/src/protocol/requests/index.js") as {
  requests: { JoinGroup: unknown };
};
const apiKeys = require("kafkajs/src/protocol/requests/apiKeys.js") as { JoinGroup: number };
const SEND_REQUEST = Object.getOwnPropertySymbols(broker).find(
  (symbol) => symbol.description === "private:Broker:sendRequest",
);
if (!SEND_REQUEST) throw new Error("kafkajs's Broker changed: static membership cannot be patched in");

/** kafkajs's Broker.joinGroup, passing on the group's instance id (static members only). */
function staticJoinGroup(original: Broker["joinGroup"]) {
  return async function joinGroup(this: Broker, args: JoinGroupArgs): Promise<unknown> {
    const groupInstanceId = instanceIds.get(args.groupId);
    if (groupInstanceId === undefined) return original.call(this, args);
    const request = this.lookupRequest(apiKeys.JoinGroup, requests.JoinGroup);
    const send = (memberId: string) =>
      this[SEND_REQUEST!]!(request({ protocolType: "consumer", ...args, memberId, groupInstanceId }));
    try {
      return await send(args.memberId ?? "");
    } catch (error) {
      const required = error as Error & { memberId?: string };
      if (required.name === "KafkaJSMemberIdRequired" && required.memberId) return send(required.memberId);
      throw error;
    }
  };
}

/*
 * kafkajs's OffsetManager keeps the coordinator it was given at the group's join: a commit refused
 * with NOT_COORDINATOR (the group's coordinator moved — a node died, or came back and was made
 * leader of the offsets partition again) only refreshes the metadata, and kafkajs's retries send the
 * commit to the same node again; a coordinator it cannot reach is looked up again *by node id*, the
 * same dead node. So commits failed for a minute at a time while the member fetched on (seen in a
 * three-broker chaos run: the webhook intake's commits refused with "This is not the correct
 * coordinator" every 5 s after the load had ended). Upstream: tulios/kafkajs#1779 (open). Here both
 * ask the cluster which node coordinates the group now, so the next try goes there.
 */
type OffsetManager = {
  cluster: { findGroupCoordinator(args: { groupId: string }): Promise<OffsetManager["coordinator"]> };
  coordinator: { isConnected(): boolean };
  groupId: string;
  commitOffsets(offsets?: unknown): Promise<void>;
  getCoordinator(): Promise<OffsetManager["coordinator"]>;
};
const { prototype: offsetManager } = require("kafkajs/src/consumer/offsetManager/index.js") as {
  prototype: OffsetManager;
};

/** OffsetManager methods that find the group's coordinator again when it moved. */
function rediscoveringOffsets(methods: Pick<OffsetManager, "commitOffsets">) {
  const commitOffsets = methods.commitOffsets; // kafkajs's own, taken before it is replaced
  const rediscover = async (self: OffsetManager) => {
    self.coordinator = await self.cluster.findGroupCoordinator({ groupId: self.groupId });
    return self.coordinator;
  };
  return {
    async commitOffsets(this: OffsetManager, offsets?: unknown): Promise<void> {
      try {
        return await commitOffsets.call(this, offsets);
      } catch (error) {
        if ((error as { type?: string }).type === "NOT_COORDINATOR_FOR_GROUP") {
          await rediscover(this).catch(() => undefined); // tried again on kafkajs's next attempt
        }
        throw error;
      }
    },
    async getCoordinator(this: OffsetManager): Promise<OffsetManager["coordinator"]> {
      return this.coordinator.isConnected() ? this.coordinator : rediscover(this);
    },
  };
}

if (!consumerGroup[PATCHED_GROUP]) {
  broker.joinGroup = staticJoinGroup(broker.joinGroup);
  consumerGroup.heartbeat = rejoiningHeartbeat(consumerGroup.heartbeat);
  consumerGroup.joinAndSync = patientJoin(consumerGroup.joinAndSync);
  consumerGroup.fetch = patientFetch(consumerGroup.fetch);
  Object.assign(offsetManager, rediscoveringOffsets(offsetManager));
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

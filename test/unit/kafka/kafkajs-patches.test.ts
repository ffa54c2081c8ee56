import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { joinAsStaticMember, patientFetch, patientJoin } from "../../../src/kafka/kafkajs-patches.ts";

/*
 * The kafkajs patches (issue 22). The producer's (kafkajs#1303) is proved against three real
 * brokers in test/chaos/cluster.test.ts; the consumer's here, on kafkajs's own ConsumerGroup with a
 * coordinator that cannot be reached.
 */

const require = createRequire(import.meta.url);
const ConsumerGroup = require("kafkajs/src/consumer/consumerGroup.js") as new (
  options: Record<string, unknown>,
) => {
  memberId: string | null;
  generationId: number | null;
  lastRequest: number;
  coordinator: unknown;
  heartbeat(args: { interval: number }): Promise<void>;
};
const { KafkaJSConnectionError, KafkaJSNonRetriableError, isRebalancing } =
  require("kafkajs/src/errors.js") as {
    KafkaJSConnectionError: new (message: string) => Error;
    KafkaJSNonRetriableError: new (e: Error, options: { cause: Error }) => Error;
    isRebalancing(e: unknown): boolean;
  };

function groupWithCoordinator(heartbeat: () => Promise<void>) {
  const logger = { namespace: () => ({ debug() {}, info() {}, warn() {}, error() {} }) };
  const group = new ConsumerGroup({ retry: {}, cluster: {}, groupId: "g", topics: [], logger });
  group.memberId = "member-1";
  group.generationId = 3;
  group.lastRequest = 0;
  group.coordinator = { heartbeat };
  return group;
}

describe("kafkajs patches", () => {
  it("a heartbeat that cannot reach the coordinator fails as NOT_COORDINATOR: kafkajs rejoins and finds the new one", async () => {
    const refused = new KafkaJSConnectionError("Connection error: connect ECONNREFUSED 127.0.0.1:9094");
    const group = groupWithCoordinator(async () => {
      throw refused;
    });
    const error = (await group.heartbeat({ interval: 0 }).catch((e: unknown) => e)) as Error & {
      type: string;
      cause: unknown;
    };
    expect(error.type).toBe("NOT_COORDINATOR_FOR_GROUP");
    expect(isRebalancing(error)).toBe(true); // what kafkajs's runner answers with joinAndSync()
    expect(error.cause).toBe(refused);
    expect(isRebalancing(refused)).toBe(false); // unpatched, it was retried against the dead node
  });

  it("leaves other heartbeat errors as they are", async () => {
    const other = Object.assign(new Error("The group is rebalancing"), { type: "REBALANCE_IN_PROGRESS" });
    const group = groupWithCoordinator(async () => {
      throw other;
    });
    await expect(group.heartbeat({ interval: 0 })).rejects.toBe(other);
  });

  it("a join that cannot reach the coordinator is tried again as the same member (bounded); other failures stand", async () => {
    const refused = () => {
      const cause = new KafkaJSConnectionError("Connection error: connect ECONNREFUSED 127.0.0.1:9094");
      return new KafkaJSNonRetriableError(cause, { cause }); // what kafkajs's joinAndSync rejects with
    };
    const waits: number[] = [];
    const sleep = async (ms: number) => void waits.push(ms);
    let calls = 0;
    const join = patientJoin(
      async () => {
        calls++;
        if (calls < 3) throw refused();
      },
      { sleep },
    );
    await join.call({ joinAndSync: join });
    expect(calls).toBe(2 + 1);
    expect(waits).toEqual([200, 400]);

    const other = new Error("The group member's supported protocols are incompatible");
    const strict = patientJoin(
      async () => {
        throw other;
      },
      { sleep },
    );
    await expect(strict.call({ joinAndSync: strict })).rejects.toBe(other);

    const impatient = patientJoin(
      async () => {
        throw refused();
      },
      { patienceMs: 0, sleep },
    );
    await expect(impatient.call({ joinAndSync: impatient })).rejects.toThrow(/ECONNREFUSED/);
  });

  it("a fetch from a leader that cannot be reached returns nothing after refreshing the metadata (bounded); other failures stand", async () => {
    const refused = () => new KafkaJSConnectionError("Connection error: connect ECONNREFUSED 127.0.0.1:9094");
    const waits: number[] = [];
    const sleep = async (ms: number) => void waits.push(ms);
    let refreshes = 0;
    const cluster = {
      refreshMetadata: async () => {
        refreshes++;
        if (refreshes === 2) throw refused(); // a failed refresh is tried again on the next fetch
      },
    };
    const batches = [{ partition: 0 }];
    let leaderDown = true;
    const fetch = patientFetch(
      async (nodeId) => {
        if (nodeId === 2 && leaderDown) throw refused();
        return batches;
      },
      { sleep },
    );
    const group = { cluster, fetch };
    expect(await group.fetch(2)).toEqual([]); // kafkajs heartbeats, then fetches again
    expect(await group.fetch(2)).toEqual([]);
    expect(await group.fetch(1)).toBe(batches); // the live leader's fetches are untouched
    expect(refreshes).toBe(2);
    expect(waits).toEqual([250, 250]);
    leaderDown = false;
    expect(await group.fetch(2)).toBe(batches);

    const other = Object.assign(new Error("Offset out of range"), { name: "KafkaJSOffsetOutOfRange" });
    const strict = patientFetch(
      async () => {
        throw other;
      },
      { sleep },
    );
    await expect(strict.call({ cluster, fetch: strict }, 1)).rejects.toBe(other);

    const impatient = patientFetch(
      async () => {
        throw refused();
      },
      { patienceMs: 0, sleep },
    );
    await expect(impatient.call({ cluster, fetch: impatient }, 2)).rejects.toThrow(/ECONNREFUSED/);
  });

  it("one static member id per group and process: another is refused, the same is accepted, undo frees it", () => {
    const leave = joinAsStaticMember("g-static", "scorer-a");
    expect(() => joinAsStaticMember("g-static", "scorer-b")).toThrow(
      /already joins from this process as scorer-a/,
    );
    joinAsStaticMember("g-static", "scorer-a");
    leave();
    joinAsStaticMember("g-static", "scorer-b")();
  });

  it("a commit refused by a node that no longer coordinates the group goes to the new coordinator next time", async () => {
    // kafkajs's own OffsetManager, as patched: it kept sending to the node it was given at the join.
    const OffsetManager = require("kafkajs/src/consumer/offsetManager/index.js") as new (
      options: Record<string, unknown>,
    ) => { commitOffsets(o: unknown): Promise<void>; getCoordinator(): Promise<unknown> };
    const { createErrorFromCode } = require("kafkajs/src/protocol/error.js") as {
      createErrorFromCode(code: number): Error;
    };
    const commits: string[] = [];
    const node = (name: string, connected = true) => ({
      name,
      isConnected: () => connected,
      offsetCommit: async () => {
        commits.push(name);
        if (name === "old") throw createErrorFromCode(16);
      },
    });
    const asked: string[] = [];
    const committed = {};
    const cluster = {
      committedOffsets: () => committed,
      refreshMetadata: async () => {},
      findGroupCoordinator: async ({ groupId }: { groupId: string }) => {
        asked.push(groupId);
        return node("new");
      },
    };
    const emitter = { emit() {} };
    const manager = new OffsetManager({
      cluster,
      coordinator: node("old"),
      memberAssignment: { t: [0] },
      topicConfigurations: {},
      instrumentationEmitter: emitter,
      groupId: "g",
      generationId: 1,
      memberId: "m",
    });
    const offsets = { topics: [{ topic: "t", partitions: [{ partition: 0, offset: "5" }] }] };
    await expect(manager.commitOffsets(offsets)).rejects.toThrow(/coordinator/i);
    await manager.commitOffsets(offsets);
    expect(commits).toEqual(["old", "new"]);
    expect(asked).toEqual(["g"]);

    // A coordinator it cannot reach is asked for again, not looked up by the same node id.
    const lost = Object.assign(manager, { coordinator: node("dead", false) });
    expect(await lost.getCoordinator()).toMatchObject({ name: "new" });
  });

  it("kafkajs's consumer group runs the patches", () => {
    const { prototype } = require("kafkajs/src/consumer/consumerGroup.js") as {
      prototype: Record<symbol, unknown>;
    };
    expect(prototype[Symbol.for("sentinel.kafkajs-coordinator")]).toBe(true);
  });

  it("kafkajs's producer sends through our sendMessages", () => {
    const installed = require("kafkajs/src/producer/sendMessages.js") as Record<symbol, unknown>;
    expect(installed[Symbol.for("sentinel.kafkajs-1303")]).toBe(true);
  });
});

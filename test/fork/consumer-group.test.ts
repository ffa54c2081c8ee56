import { describe, expect, it } from "vitest";
import { forkTest, type KafkaJSErrors, kafkajs, silentLogger } from "./kafkajs-under-test.ts";

/*
 * Fork changes 3-6, on kafkajs's own ConsumerGroup with a coordinator that is a plain object:
 * a heartbeat or a join that cannot reach the coordinator, a fetch from a leader that cannot be
 * reached, and static membership (issue 22's three-broker runs found the first three).
 */

type Group = {
  memberId: string | null;
  generationId: number | null;
  lastRequest: number;
  coordinator: unknown;
  unreachableRetry: Record<string, number>;
  heartbeat(args: { interval: number }): Promise<void>;
  joinAndSync(): Promise<void>;
  fetch(nodeId: number): Promise<unknown[]>;
};
const ConsumerGroup = kafkajs<new (options: Record<string, unknown>) => Group>(
  "src/consumer/consumerGroup.js",
);
const { KafkaJSConnectionError, isRebalancing } = kafkajs<KafkaJSErrors>("src/errors.js");
const refused = () => new KafkaJSConnectionError("Connection error: connect ECONNREFUSED 127.0.0.1:9094");

function consumerGroup(cluster: Record<string, unknown> = {}, options: Record<string, unknown> = {}) {
  const group = new ConsumerGroup({
    retry: { retries: 2, initialRetryTime: 1, maxRetryTime: 5 },
    cluster: {
      committedOffsets: () => ({}),
      findTopicPartitionMetadata: () => [],
      async refreshMetadata() {},
      async refreshMetadataIfNecessary() {},
      ...cluster,
    },
    groupId: "g",
    topics: [],
    topicConfigurations: {},
    logger: silentLogger,
    instrumentationEmitter: { emit() {} },
    assigners: [],
    sessionTimeout: 10_000,
    rebalanceTimeout: 10_000,
    maxWaitTimeInMs: 1,
    ...options,
  });
  // Small waits (the fork's defaults wait out a dead node for 20 s); pristine kafkajs ignores these.
  group.unreachableRetry = {
    joinPatienceMs: 2_000,
    joinBackoffMs: 1,
    joinMaxBackoffMs: 2,
    fetchRetryMs: 1,
    fetchPatienceMs: 2_000,
  };
  return group;
}

/** A coordinator that lets a member join a group of one with nothing assigned. */
function coordinator(joins: Array<Record<string, unknown>>) {
  return {
    async joinGroup(args: Record<string, unknown>) {
      joins.push(args);
      return { generationId: 1, leaderId: "leader", memberId: "member-1", members: [], groupProtocol: "rr" };
    },
    async syncGroup() {
      return { memberAssignment: Buffer.alloc(0) };
    },
  };
}

describe("kafkajs fork: a consumer group whose coordinator cannot be reached", () => {
  forkTest("a heartbeat that cannot reach it fails as NOT_COORDINATOR, so the runner rejoins", async () => {
    const group = consumerGroup();
    Object.assign(group, { memberId: "member-1", generationId: 3, lastRequest: 0 });
    const cause = refused();
    group.coordinator = {
      heartbeat: async () => {
        throw cause;
      },
    };
    const error = (await group.heartbeat({ interval: 0 }).catch((e: unknown) => e)) as Error & {
      type?: string;
      cause?: unknown;
    };
    expect(error.type).toBe("NOT_COORDINATOR_FOR_GROUP");
    expect(isRebalancing(error)).toBe(true); // what kafkajs's runner answers with joinAndSync()
    expect(error.cause).toBe(cause);
  });

  it("other heartbeat errors stand as they are", async () => {
    const group = consumerGroup();
    Object.assign(group, { memberId: "member-1", generationId: 3, lastRequest: 0 });
    const other = Object.assign(new Error("The group is rebalancing"), { type: "REBALANCE_IN_PROGRESS" });
    group.coordinator = {
      heartbeat: async () => {
        throw other;
      },
    };
    await expect(group.heartbeat({ interval: 0 })).rejects.toBe(other);
  });

  forkTest("a join that cannot reach it is tried again, as the same member, until it can", async () => {
    let lookups = 0;
    const joins: Array<Record<string, unknown>> = [];
    const group = consumerGroup({
      async findGroupCoordinator() {
        lookups++;
        if (lookups < 3) throw refused(); // the dead node, until it is fenced
        return coordinator(joins);
      },
    });
    await group.joinAndSync();
    expect(lookups).toBe(3);
    expect(joins).toHaveLength(1);
    expect(group.memberId).toBe("member-1");
  });

  it("a join refused for another reason fails at once", async () => {
    const other = new Error("The group member's supported protocols are incompatible");
    let lookups = 0;
    const group = consumerGroup({
      async findGroupCoordinator() {
        lookups++;
        throw other;
      },
    });
    await expect(group.joinAndSync()).rejects.toThrow(/incompatible/);
    expect(lookups).toBe(1);
  });
});

/**
 * A member assigned partition 0 of `t`, led by node 2, whose broker refuses connections (or is
 * `findBroker`'s), built with `options`.
 */
async function fetchingMember({
  findBroker = async (): Promise<unknown> => {
    throw refused();
  },
  options = {},
}: {
  findBroker?: () => Promise<unknown>;
  options?: Record<string, unknown>;
} = {}) {
  let refreshes = 0;
  const committed = {};
  const metadata = [{ partitionId: 0, leader: 2, replicas: [2], isr: [2] }];
  const leadBy = (node: number) =>
    Object.assign(metadata[0]!, { leader: node, replicas: [node], isr: [node] });
  const cluster = {
    async findGroupCoordinator() {
      return {
        isConnected: () => true,
        async offsetFetch() {
          return { responses: [{ topic: "t", partitions: [{ partition: 0, offset: "5" }] }] };
        },
        async joinGroup() {
          return { generationId: 1, leaderId: "x", memberId: "member-1", members: [], groupProtocol: "rr" };
        },
        async syncGroup() {
          // MemberAssignment v0: topic `t`, partition 0.
          const b = Buffer.alloc(2 + 4 + 2 + 1 + 4 + 4 + 4);
          let o = b.writeInt16BE(0, 0);
          o = b.writeInt32BE(1, o);
          o = b.writeInt16BE(1, o);
          o += b.write("t", o);
          o = b.writeInt32BE(1, o);
          o = b.writeInt32BE(0, o);
          b.writeInt32BE(0, o);
          return { memberAssignment: b };
        },
      };
    },
    findTopicPartitionMetadata: () => metadata,
    async refreshMetadataIfNecessary() {},
    async refreshMetadata() {
      refreshes++;
    },
    committedOffsets: () => committed,
    findBroker,
  };
  const group = consumerGroup(cluster, { topics: ["t"], topicConfigurations: { t: {} }, ...options });
  await group.joinAndSync();
  return { group, refreshes: () => refreshes, leadBy };
}

describe("kafkajs fork: a fetch from a leader that cannot be reached", () => {
  forkTest(
    "returns no batches after refreshing the metadata, so the runner heartbeats and fetches again",
    async () => {
      const { group, refreshes } = await fetchingMember();
      // Pristine kafkajs throws the connection error: its runner stops every fetcher and backs off.
      expect(await group.fetch(2)).toEqual([]);
      expect(await group.fetch(2)).toEqual([]);
      expect(refreshes()).toBe(2);
    },
  );

  forkTest(
    "a node that leads nothing any more is not failing: when it fails again, its patience starts afresh",
    async () => {
      const { group, leadBy } = await fetchingMember();
      group.unreachableRetry = { ...group.unreachableRetry, fetchPatienceMs: 50 };
      expect(await group.fetch(2)).toEqual([]); // node 2 dead: waited out
      leadBy(1); // its partition moved; node 2's fetcher has nothing to ask
      expect(await group.fetch(2)).toEqual([]);
      await new Promise((r) => setTimeout(r, 80)); // longer than the patience
      leadBy(2); // node 2 leads again, and fails again
      expect(await group.fetch(2)).toEqual([]); // waited out again, not given up at once
    },
  );

  it("gives up after its patience: kafkajs's own handling stands", async () => {
    const { group } = await fetchingMember();
    group.unreachableRetry = { ...group.unreachableRetry, fetchPatienceMs: 0 };
    await expect(group.fetch(2)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe("kafkajs fork: static membership (KIP-345)", () => {
  forkTest("a member given an instance id joins with it", async () => {
    const joins: Array<Record<string, unknown>> = [];
    const group = consumerGroup(
      { findGroupCoordinator: async () => coordinator(joins) },
      { groupInstanceId: "scorer-a" },
    );
    await group.joinAndSync();
    expect(joins[0]).toMatchObject({ groupId: "g", groupInstanceId: "scorer-a" });
  });

  forkTest("the broker sends it in JoinGroup v5", async () => {
    type Broker = { lookupRequest: unknown; joinGroup(args: Record<string, unknown>): Promise<unknown> };
    const Broker = kafkajs<new (options: Record<string, unknown>) => Broker>("src/broker/index.js");
    const { lookup } = kafkajs<{ lookup(versions: unknown): unknown }>("src/protocol/requests/index.js");
    const apiKeys = kafkajs<{ JoinGroup: number }>("src/protocol/requests/apiKeys.js");
    const sent: Buffer[] = [];
    const broker = new Broker({
      connectionPool: {
        connectionTimeout: 1_000,
        host: "127.0.0.1",
        port: 9,
        async send({ request }: { request: { encode(): Promise<{ buffer: Buffer }> } }) {
          sent.push((await request.encode()).buffer);
          return { memberId: "member-1" };
        },
      },
      logger: silentLogger,
    });
    broker.lookupRequest = lookup({ [apiKeys.JoinGroup]: { minVersion: 0, maxVersion: 5 } });
    await broker.joinGroup({
      groupId: "g",
      groupInstanceId: "scorer-a",
      sessionTimeout: 10_000,
      rebalanceTimeout: 10_000,
      groupProtocols: [{ name: "RoundRobinAssigner", metadata: Buffer.alloc(0) }],
    });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.includes(Buffer.from("scorer-a"))).toBe(true);
  });
});

describe("kafkajs fork: a fetch after an empty one waits for anything, not for minBytes", () => {
  /** A leader that records each fetch's wait and bytes asked, and answers with `next()`'s records. */
  function recordingBroker(next: () => number) {
    const asked: Array<{ maxWaitTime: number; minBytes: number }> = [];
    const broker = {
      async fetch({ maxWaitTime, minBytes }: { maxWaitTime: number; minBytes: number }) {
        asked.push({ maxWaitTime, minBytes });
        const n = next();
        const messages = Array.from({ length: n }, (_, i) => ({
          offset: String(5 + i),
          value: Buffer.from("x"),
        }));
        return {
          responses: [
            { topicName: "t", partitions: [{ partition: 0, highWatermark: String(5 + n), messages }] },
          ],
        };
      },
    };
    return { broker, asked };
  }
  const busy = { maxWaitTime: 25, minBytes: 262_144 };

  forkTest(
    "an empty fetch makes the next ask for one byte with the idle wait; records make it batch again",
    async () => {
      const answers = [0, 0, 3, 0];
      const { broker, asked } = recordingBroker(() => answers.shift() ?? 0);
      const { group } = await fetchingMember({
        findBroker: async () => broker,
        options: { maxWaitTimeInMs: 25, minBytes: 262_144, idleMaxWaitTimeInMs: 250 },
      });
      for (let i = 0; i < 4; i++) await group.fetch(2);
      const idle = { maxWaitTime: 250, minBytes: 1 };
      // Pristine kafkajs asks for minBytes with maxWaitTime every time (40 fetches a second when idle).
      expect(asked).toEqual([busy, idle, idle, busy]);
    },
  );

  it("without an idle wait, every fetch asks for minBytes with maxWaitTime", async () => {
    const { broker, asked } = recordingBroker(() => 0);
    const { group } = await fetchingMember({
      findBroker: async () => broker,
      options: { maxWaitTimeInMs: 25, minBytes: 262_144 },
    });
    for (let i = 0; i < 3; i++) await group.fetch(2);
    expect(asked).toEqual([busy, busy, busy]);
  });
});

import { describe, expect } from "vitest";
import { forkTest, kafkajs } from "./kafkajs-under-test.ts";

/*
 * Fork change 7 (tulios/kafkajs#1779): the OffsetManager kept the coordinator of the join. A
 * commit refused with NOT_COORDINATOR only refreshed the metadata, and every retry went to the
 * node that had refused it; a coordinator it could not reach was looked up again by its node id,
 * the same dead node (a webhook intake's commits refused for minutes in a three-broker run).
 */

type Manager = {
  coordinator: unknown;
  commitOffsets(o: unknown): Promise<void>;
  getCoordinator(): Promise<unknown>;
};
const OffsetManager = kafkajs<new (options: Record<string, unknown>) => Manager>(
  "src/consumer/offsetManager/index.js",
);
const { createErrorFromCode } = kafkajs<{ createErrorFromCode(code: number): Error }>(
  "src/protocol/error.js",
);

function manager() {
  const commits: string[] = [];
  const node = (name: string, connected = true) => ({
    name,
    isConnected: () => connected,
    offsetCommit: async () => {
      commits.push(name);
      if (name === "old") throw createErrorFromCode(16); // NOT_COORDINATOR
    },
  });
  const asked: string[] = [];
  const cluster = {
    committedOffsets: () => ({}),
    refreshMetadata: async () => {},
    findGroupCoordinator: async ({ groupId }: { groupId: string }) => {
      asked.push(groupId);
      return node("new");
    },
    findBroker: async () => node("dead", false), // by node id: the same node again
  };
  const offsets = new OffsetManager({
    cluster,
    coordinator: node("old"),
    memberAssignment: { t: [0] },
    topicConfigurations: {},
    instrumentationEmitter: { emit() {} },
    groupId: "g",
    generationId: 1,
    memberId: "m",
  });
  return { offsets, commits, asked, node };
}

const toCommit = { topics: [{ topic: "t", partitions: [{ partition: 0, offset: "5" }] }] };

describe("kafkajs fork: commits after the group's coordinator moved", () => {
  forkTest(
    "a commit refused by a node that no longer coordinates the group goes to the new one next",
    async () => {
      const { offsets, commits, asked } = manager();
      await expect(offsets.commitOffsets(toCommit)).rejects.toThrow(/coordinator/i);
      await offsets.commitOffsets(toCommit);
      expect(commits).toEqual(["old", "new"]);
      expect(asked).toEqual(["g"]);
    },
  );

  forkTest(
    "a coordinator it cannot reach is asked for again, not looked up by the same node id",
    async () => {
      const { offsets, node } = manager();
      offsets.coordinator = node("dead", false);
      expect(await offsets.getCoordinator()).toMatchObject({ name: "new" });
    },
  );
});

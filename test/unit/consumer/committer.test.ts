import { describe, expect, it } from "vitest";
import { committer } from "../../../src/consumer/scorer.ts";
import type { GroupConsumer } from "../../../src/kafka/group-consumer.ts";

/*
 * The scorer's commits (chaos, 2026-12-05): a commit asked for a batch worked in one generation is
 * never sent — nor sent again — after the group rejoined, where kafkajs would send it with the new
 * generation and overwrite the partition's new owner's commit.
 */

function fakeGroup() {
  let generation = 0;
  const sent: Array<{ partition: number; offset: string; current: () => boolean }> = [];
  const group = {
    commit: async (c: { partition: number; offset: string; current: () => boolean }) => {
      sent.push(c);
    },
  } as unknown as GroupConsumer;
  return { group, sent, generation: () => generation, rejoin: () => generation++ };
}

describe("the scorer's committer", () => {
  it("sends a commit of the generation its batch was worked in, and none after a rejoin", async () => {
    const { group, sent, rejoin, generation } = fakeGroup();
    const commit = committer(group, () => false, generation);
    const workedIn = generation();
    await commit("t", 1, "100", () => false, workedIn);
    expect(sent.map((c) => c.offset)).toEqual(["100"]);
    // Refused, about to be sent again: the group rejoins meanwhile — it is no longer current.
    rejoin();
    expect(sent[0]!.current()).toBe(false);
    // A chunk of the old generation that finishes after the rejoin is not sent at all.
    await expect(commit("t", 1, "150", () => false, workedIn)).rejects.toThrow(/rejoined/);
    expect(sent).toHaveLength(1);
    // The new generation's commits go out.
    await commit("t", 1, "200", () => false, generation());
    expect(sent.map((c) => c.offset)).toEqual(["100", "200"]);
    expect(sent[1]!.current()).toBe(true);
  });
});

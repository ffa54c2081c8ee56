import type { KafkaMessage } from "kafkajs";
import { describe, expect, it } from "vitest";
import { scoreHalving } from "../../../src/consumer/halving.ts";
import { SentinelError } from "../../../src/errors.ts";
import type { ChunkResult } from "../../../src/scoring/round.ts";

/* Narrowing a refused chunk down to its refused messages, against a scorer double that refuses some. */

const msg = (offset: number) =>
  ({ offset: String(offset), key: null, value: null, timestamp: "0" }) as KafkaMessage;
const ok = (messages: KafkaMessage[]): ChunkResult => ({
  decisions: messages.map((m) => ({
    decision: {
      transaction_id: m.offset,
      user_id: "u",
      decision: "approve",
      score: 0,
      reasons: [],
      rules_version: "v",
      decided_at: "2026-01-01T00:00:00Z",
    },
    replayed: false,
  })),
  deadLetters: [],
  redecided: [],
});

function refusing(bad: Set<number>, calls: number[][] = []) {
  return async (messages: KafkaMessage[]) => {
    calls.push(messages.map((m) => Number(m.offset)));
    if (messages.some((m) => bad.has(Number(m.offset))))
      throw new SentinelError("internal", "check violated");
    return ok(messages);
  };
}

describe("scoreHalving", () => {
  it("stores every message but the refused ones, in offset order, and letters those", async () => {
    const messages = [0, 1, 2, 3, 4, 5, 6, 7].map(msg);
    const { result, refused } = await scoreHalving(refusing(new Set([2, 5])), messages);
    expect(result.decisions.map((d) => d.decision.transaction_id)).toEqual(["0", "1", "3", "4", "6", "7"]);
    expect(refused.map((r) => [r.message.offset, r.reason])).toEqual([
      ["2", "store_rejected"],
      ["5", "store_rejected"],
    ]);
  });

  it("treats a chunk whose every message is refused as an outage (retryable, nothing lettered)", async () => {
    const messages = [0, 1, 2].map(msg);
    await expect(scoreHalving(refusing(new Set([0, 1, 2])), messages)).rejects.toMatchObject({
      code: "store_unavailable",
      retryable: true,
    });
  });

  it("passes an outage through at once, without halving", async () => {
    const calls: number[][] = [];
    const down = async (m: KafkaMessage[]) => {
      calls.push(m.map((x) => Number(x.offset)));
      throw new SentinelError("store_unavailable", "down");
    };
    await expect(scoreHalving(down, [0, 1, 2, 3].map(msg))).rejects.toMatchObject({
      code: "store_unavailable",
    });
    expect(calls).toEqual([[0, 1, 2, 3]]);
  });

  it("tries a refused message once more alone: a fault that cleared meanwhile letters nothing", async () => {
    const bad = new Set([1, 2]);
    const calls: number[][] = [];
    const score = refusing(bad, calls);
    const flaky = async (m: KafkaMessage[]) => {
      const r = await score(m).catch((e) => {
        if (calls.length >= 5) bad.clear(); // the constraint is dropped while the chunk is halved
        throw e;
      });
      return r;
    };
    const { result, refused } = await scoreHalving(flaky, [0, 1, 2, 3].map(msg));
    expect(refused).toEqual([]);
    expect(result.decisions.map((d) => d.decision.transaction_id).sort()).toEqual(["0", "1", "2", "3"]);
  });
});

import { createRequire } from "node:module";
import { describe, expect, it, vi } from "vitest";
import {
  forkTest,
  type GroupMessagesPerPartition,
  kafkajs,
  type ProduceRequest,
} from "./kafkajs-under-test.ts";

/*
 * Fork changes 8 and 9 (issue 38, CPU per transaction): what a produce request costs to build.
 * 8: kafkajs zero-filled a fresh 512-byte buffer for every record it encoded (and for every
 * growth), and wrote each varint through an array and a Buffer of its own — 5 % of the ingress's
 * CPU at saturation was the zeroing alone. 9: grouping a send's messages by partition copied the
 * partition's list for every message, quadratic in a partition's share of a send.
 * The bytes on the wire must not change: each is compared with pristine kafkajs 2.2.4's.
 */

type Message = {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  timestamp?: string;
  headers?: Record<string, string | string[]>;
};
type Group = GroupMessagesPerPartition<Message>;

const pristine = <T>(path: string) => createRequire(import.meta.url)(`kafkajs-pristine/${path}`) as T;
const PRODUCE = "src/protocol/requests/produce/v3/request.js";
const GROUP = "src/producer/groupMessagesPerPartition.js";

/** Records of every shape a varint and a buffer's growth meet: sizes across 1-5-byte varints, null keys, headers, unicode. */
function messages(): Message[] {
  const out: Message[] = [];
  for (let i = 0; i < 300; i++) {
    out.push({
      key: i % 7 === 0 ? null : i % 5 === 0 ? Buffer.from(`k-${i}`) : `user-${i}`,
      value:
        i === 17
          ? null
          : `{"n":${i},"text":"${"ünïcode €".repeat(i % 40)}"}${"x".repeat(i === 99 ? 70_000 : i * 3)}`,
      timestamp: String(1_796_500_000_000 + i * 997 - (i % 3) * 50_000),
      ...(i % 4 === 0 ? { headers: { traceparent: `00-${i}`, many: ["a", "b"] } } : {}),
    });
  }
  return out;
}

async function produceBytes(request: ProduceRequest): Promise<Buffer> {
  const msgs = messages();
  const encoded = await request({
    acks: -1,
    timeout: 30_000,
    topicData: [
      {
        topic: "transactions",
        partitions: [{ partition: 0, firstSequence: 0, messages: msgs.slice(0, 120) }],
      },
      { topic: "decisions", partitions: [{ partition: 3, firstSequence: 0, messages: msgs.slice(120) }] },
    ],
  }).encode();
  return Buffer.from(encoded.buffer);
}

describe("kafkajs fork: building a produce request", () => {
  it("writes the same bytes as kafkajs 2.2.4", async () => {
    const now = vi.spyOn(Date, "now").mockReturnValue(1_796_500_000_000); // records without a timestamp
    try {
      const ours = await produceBytes(kafkajs<ProduceRequest>(PRODUCE));
      const theirs = await produceBytes(pristine<ProduceRequest>(PRODUCE));
      expect(ours.length).toBeGreaterThan(100_000);
      expect(ours.equals(theirs)).toBe(true);
    } finally {
      now.mockRestore();
    }
  });

  forkTest("zero-fills no buffer (every byte sent is written first)", async () => {
    const alloc = vi.spyOn(Buffer, "alloc");
    try {
      await produceBytes(kafkajs<ProduceRequest>(PRODUCE));
      expect(alloc).not.toHaveBeenCalled();
    } finally {
      alloc.mockRestore();
    }
  });
});

describe("kafkajs fork: grouping a send's messages by partition", () => {
  const send = () => {
    const msgs = messages().map((m, i) => ({ ...m, p: (i * 7) % 12 }));
    return {
      topic: "decisions",
      partitionMetadata: Array.from({ length: 12 }, (_, partitionId) => ({ partitionId, leader: 1 })),
      messages: msgs,
      partitioner: ({ message }: { message: Message }) => (message as Message & { p: number }).p,
    };
  };

  it("groups as kafkajs 2.2.4 does: every message once, in order within its partition", () => {
    const args = send();
    const ours = kafkajs<Group>(GROUP)(args);
    expect(ours).toEqual(pristine<Group>(GROUP)(args));
    expect(Object.values(ours).flat()).toHaveLength(args.messages.length);
  });

  forkTest("copies no partition's list per message (linear in the send)", () => {
    const args = send();
    const group = kafkajs<Group>(GROUP);
    // Spreading an array (`[...list, message]`) goes through its iterator; count them.
    const values = Array.prototype[Symbol.iterator];
    let iterated = 0;
    Array.prototype[Symbol.iterator] = function (this: unknown[]) {
      iterated++;
      return values.call(this);
    };
    try {
      group(args);
    } finally {
      Array.prototype[Symbol.iterator] = values;
    }
    expect(iterated).toBeLessThanOrEqual(1);
  });
});

import type { Message, ProducerBatch } from "kafkajs";
import { describe, expect, it } from "vitest";
import { createPublisher, isSizeRefusal, splitRequests } from "../../../src/kafka/publisher.ts";

/* The publish boundary against a recording sendBatch: requests fit by bytes, a size refusal splits. */

const msg = (bytes: number, key = "k"): Message => ({ key, value: Buffer.alloc(bytes, 0x61) });

describe("splitRequests", () => {
  it("cuts topic messages into requests under the byte limit, keeping order across topics", () => {
    const requests = splitRequests(
      [
        { topic: "d", messages: [msg(400), msg(400), msg(400)] },
        { topic: "l", messages: [msg(300)] },
      ],
      1_000,
    );
    expect(requests.map((r) => r.map((t) => `${t.topic}:${t.messages.length}`))).toEqual([
      ["d:2"],
      ["d:1", "l:1"],
    ]);
  });

  it("lets one message larger than the limit travel alone", () => {
    expect(
      splitRequests([{ topic: "d", messages: [msg(50), msg(5_000), msg(50)] }], 1_000).map(
        (r) => r[0]!.messages.length,
      ),
    ).toEqual([1, 1, 1]);
  });
});

describe("createPublisher", () => {
  const tooLarge = Object.assign(
    new Error("The request included a message larger than the max message size"),
    {
      type: "MESSAGE_TOO_LARGE",
    },
  );

  it("splits a request the broker refuses for its size, and sends every message once, in order", async () => {
    const sent: string[][] = [];
    const publisher = createPublisher({
      maxRequestBytes: 1_000_000,
      producer: {
        sendBatch: async (batch: ProducerBatch) => {
          const keys = batch.topicMessages!.flatMap((t) => t.messages.map((m) => String(m.key)));
          if (keys.length > 2) throw tooLarge;
          sent.push(keys);
          return [];
        },
      },
    });
    await publisher.publish([{ topic: "d", messages: ["a", "b", "c", "d", "e"].map((k) => msg(10, k)) }]);
    expect(sent.flat()).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("reports a single message refused for its size as not retryable, anything else as an outage", async () => {
    const refusing = createPublisher({
      maxRequestBytes: 1_000,
      producer: {
        sendBatch: async () => {
          throw tooLarge;
        },
      },
    });
    await expect(refusing.publish([{ topic: "d", messages: [msg(10)] }])).rejects.toMatchObject({
      code: "internal",
      retryable: false,
    });
    const down = createPublisher({
      maxRequestBytes: 1_000,
      producer: {
        sendBatch: async () => {
          throw new Error("Connection error: ECONNREFUSED");
        },
      },
    });
    await expect(down.publish([{ topic: "d", messages: [msg(10)] }])).rejects.toMatchObject({
      code: "broker_unavailable",
      retryable: true,
    });
    expect(isSizeRefusal({ cause: { originalError: tooLarge } })).toBe(true);
    expect(isSizeRefusal(new Error("timeout"))).toBe(false);
  });

  it("sends nothing for empty topic lists", async () => {
    let calls = 0;
    const p = createPublisher({
      maxRequestBytes: 1_000,
      producer: {
        sendBatch: async () => {
          calls++;
          return [];
        },
      },
    });
    await p.publish([
      { topic: "d", messages: [] },
      { topic: "l", messages: [] },
    ]);
    expect(calls).toBe(0);
  });
});

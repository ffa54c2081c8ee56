import type { Message, ProducerRecord } from "kafkajs";
import { describe, expect, it } from "vitest";
import { SentinelError } from "../../../src/errors.ts";
import { createBatchingProducer } from "../../../src/kafka/batching-producer.ts";

/*
 * The batching logic alone, against a recording `send`. The integration tests run the same code
 * against the real broker.
 */
function recorder(behaviour: (record: ProducerRecord, call: number) => Promise<void> = async () => {}) {
  const calls: ProducerRecord[] = [];
  return {
    calls,
    producer: {
      send: async (record: ProducerRecord) => {
        calls.push(record);
        await behaviour(record, calls.length);
        return [];
      },
    },
  };
}

const msg = (i: number): Message => ({ key: `u${i}`, value: `{"i":${i}}` });
const options = { topic: "t", lingerMs: 5, maxMessages: 100, maxBytes: 1_000_000, timeoutMs: 1000 };

describe("batching producer", () => {
  it("gathers concurrent sends into one acks=all produce request", async () => {
    const r = recorder();
    const b = createBatchingProducer({ producer: r.producer, ...options });
    await Promise.all([...Array(50)].map((_, i) => b.send(msg(i))));
    expect(r.calls).toHaveLength(1);
    expect(r.calls[0]!.acks).toBe(-1);
    expect(r.calls[0]!.messages.map((m) => m.key)).toEqual([...Array(50)].map((_, i) => `u${i}`));
  });

  it("splits at the message-count bound", async () => {
    const r = recorder();
    const b = createBatchingProducer({ producer: r.producer, ...options, maxMessages: 10 });
    await Promise.all([...Array(35)].map((_, i) => b.send(msg(i))));
    expect(r.calls.map((c) => c.messages.length)).toEqual([10, 10, 10, 5]);
  });

  it("fails only the callers of a failed batch", async () => {
    const r = recorder(async (_rec, call) => {
      if (call === 1) throw new Error("broker said no");
    });
    const b = createBatchingProducer({ producer: r.producer, ...options, maxMessages: 2 });
    const results = await Promise.allSettled([0, 1, 2, 3].map((i) => b.send(msg(i))));
    expect(results.map((x) => x.status)).toEqual(["rejected", "rejected", "fulfilled", "fulfilled"]);
    const reason = (results[0] as PromiseRejectedResult).reason;
    expect(reason).toBeInstanceOf(SentinelError);
    expect(reason.code).toBe("unavailable");
  });

  it("rejects at the deadline when Kafka never answers, and later batches still go", async () => {
    let hang = true;
    const r = recorder(() => (hang ? new Promise(() => {}) : Promise.resolve()));
    const b = createBatchingProducer({ producer: r.producer, ...options, timeoutMs: 100 });
    const started = Date.now();
    await expect(b.send(msg(1))).rejects.toMatchObject({ code: "unavailable" });
    expect(Date.now() - started).toBeLessThan(1000);
    hang = false;
    await expect(b.send(msg(2))).resolves.toBeUndefined();
  });

  it("flush waits for everything queued and in flight", async () => {
    const r = recorder(() => new Promise((res) => setTimeout(res, 30)));
    const b = createBatchingProducer({ producer: r.producer, ...options, lingerMs: 1000 });
    let done = 0;
    for (let i = 0; i < 5; i++) void b.send(msg(i)).then(() => done++);
    await b.flush();
    expect(done).toBe(5);
  });

  it("keeps one batch in flight: a later batch never overtakes an earlier one (issue 11)", async () => {
    const events: string[] = [];
    const r = recorder(async (rec, call) => {
      events.push(`start ${call}`);
      await new Promise((res) => setTimeout(res, call === 1 ? 40 : 1));
      events.push(`end ${call}`);
      return void rec;
    });
    const b = createBatchingProducer({ producer: r.producer, ...options, maxMessages: 2 });
    await Promise.all([0, 1, 2, 3, 4].map((i) => b.send(msg(i))));
    expect(events.slice(0, 4)).toEqual(["start 1", "end 1", "start 2", "end 2"]);
    expect(r.calls.flatMap((c) => c.messages.map((m) => m.key))).toEqual(["u0", "u1", "u2", "u3", "u4"]);
  });

  it("a 503 after the deadline is final: the message is not sent again by us, a late ack changes nothing", async () => {
    let ack: () => void = () => {};
    const r = recorder((_rec, call) =>
      call === 1 ? new Promise<void>((res) => (ack = res)) : Promise.resolve(),
    );
    const b = createBatchingProducer({ producer: r.producer, ...options, timeoutMs: 50 });
    await expect(b.send(msg(1))).rejects.toMatchObject({ code: "unavailable" });
    ack(); // the broker wrote it after all: the client heard 503 and retries with the same id
    await expect(b.send(msg(1))).resolves.toBeUndefined();
    expect(r.calls.map((c) => c.messages.map((m) => m.key))).toEqual([["u1"], ["u1"]]);
  });
});

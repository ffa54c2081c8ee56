import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGroupConsumer } from "../../src/kafka/group-consumer.ts";
import { createTestContext, type TestContext } from "../support/context.ts";
import { eventually } from "../support/topics.ts";

/* Fork change 10 through our consumer factory, on the real broker: a member that waits for 256 KiB
   (the scorer's fetch) asks an idle broker a few times a second, not 40, and still reads a lone
   record as it arrives. */

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx?.cleanup();
});

describe("an idle member's fetches", () => {
  it.each([
    ["without an idle wait", undefined, 20, Number.POSITIVE_INFINITY],
    ["with a 250 ms idle wait", 250, 0, 12],
  ])(
    "%s",
    async (_label, idleWaitMs, atLeast, atMost) => {
      const topic = ctx.config.kafka.topics.transactions;
      const member = createGroupConsumer(ctx.kafka, {
        groupId: `${ctx.config.consumer.group}-idle-${idleWaitMs ?? "none"}`,
        name: "idle test",
        logger: ctx.logger,
        maxWaitTimeInMs: 25,
        minBytes: 262_144,
        ...(idleWaitMs ? { idleMaxWaitTimeInMs: idleWaitMs } : {}),
        onFatal: () => {},
      });
      const { consumer } = member;
      let fetches = 0;
      consumer.on(consumer.events.REQUEST, ({ payload }) => {
        if ((payload as { apiName: string }).apiName === "Fetch") fetches++;
      });
      let joined = false;
      consumer.on(consumer.events.GROUP_JOIN, () => {
        joined = true;
      });
      const seen: string[] = [];
      await consumer.connect();
      try {
        await consumer.subscribe({ topic, fromBeginning: false });
        await consumer.run({
          eachMessage: async ({ message }) => {
            seen.push(message.value!.toString());
          },
        });
        expect(await eventually(async () => joined, 30_000)).toBe(true);
        await new Promise((r) => setTimeout(r, 500)); // settled: its offsets resolved, fetching
        const before = fetches;
        await new Promise((r) => setTimeout(r, 2_000));
        const inTwoSeconds = fetches - before;
        // 25 ms waits: ~80 in two seconds; 250 ms idle waits: ~8.
        expect(inTwoSeconds).toBeGreaterThanOrEqual(atLeast);
        expect(inTwoSeconds).toBeLessThanOrEqual(atMost);

        const producer = ctx.kafka.producer();
        await producer.connect();
        await producer.send({ topic, messages: [{ value: `lone-${idleWaitMs}` }] });
        await producer.disconnect();
        expect(await eventually(async () => seen.includes(`lone-${idleWaitMs}`), 20_000)).toBe(true);
      } finally {
        await consumer.disconnect();
      }
    },
    60_000,
  );
});

import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { COMMIT_ATTEMPTS, commitRetrying } from "../../../src/kafka/commit-retry.ts";

/* Issue 22: a partition's last commit, refused with no rejoin after it, is sent again. */

const require = createRequire(import.meta.url);
const { KafkaJSNonRetriableError } = require("kafkajs/src/errors.js") as {
  KafkaJSNonRetriableError: new (e: Error, options: { cause: Error }) => Error;
};

/** A broker's refusal as consumer.commitOffsets throws it: wrapped by kafkajs's retrier. */
const refusal = (type: string) => {
  const protocolError = Object.assign(new Error(type), { type });
  return new KafkaJSNonRetriableError(protocolError, { cause: protocolError });
};

function attempts(failures: Error[], current = () => true) {
  const sent: number[] = [];
  const waits: number[] = [];
  const run = commitRetrying({
    send: async () => {
      sent.push(sent.length + 1);
      const failure = failures.shift();
      if (failure) throw failure;
    },
    current,
    sleep: async (ms) => void waits.push(ms),
  });
  return { run, sent, waits };
}

describe("commitRetrying", () => {
  it("sends a commit refused without a rebalance again, with backoff, until it is taken", async () => {
    const { run, sent, waits } = attempts([new Error("Request timed out"), refusal("NOT_COORDINATOR")]);
    await run;
    expect(sent).toEqual([1, 2, 3]);
    expect(waits).toEqual([200, 400]);
  });

  it("leaves a commit refused by a rebalance to the rejoin (it restarts from the committed offset)", async () => {
    const { run, sent } = attempts([refusal("ILLEGAL_GENERATION")]);
    await expect(run).rejects.toThrow("ILLEGAL_GENERATION");
    expect(sent).toEqual([1]);
  });

  it("knows a rebalance's refusal however deep kafkajs wrapped it", async () => {
    const wrapped = new KafkaJSNonRetriableError(refusal("REBALANCE_IN_PROGRESS"), {
      cause: refusal("REBALANCE_IN_PROGRESS"),
    });
    const { run, sent } = attempts([wrapped]);
    await expect(run).rejects.toThrow("REBALANCE_IN_PROGRESS");
    expect(sent).toEqual([1]);
  });

  it("stops once a later commit of the partition was asked for (or it is not ours): never moves back", async () => {
    const { run, sent } = attempts([new Error("Request timed out")], () => false);
    await expect(run).rejects.toThrow("Request timed out");
    expect(sent).toEqual([1]);
  });

  it("gives up after its attempts (COMMIT_ATTEMPTS unless told)", async () => {
    const { run, sent } = attempts(Array.from({ length: 20 }, () => new Error("Request timed out")));
    await expect(run).rejects.toThrow("Request timed out");
    expect(sent).toHaveLength(COMMIT_ATTEMPTS);
  });
});

import { describe, expect, it } from "vitest";
import { assertKafkaFork } from "../../../src/kafka/client.ts";

/* What `npm ci` installed as `kafkajs` is our fork, every patch applied (patch-package, issue 33). */
describe("the installed kafkajs", () => {
  it("is the fork; clients are made only with it", () => {
    expect(() => assertKafkaFork()).not.toThrow();
    expect(() => assertKafkaFork("kafkajs-pristine")).toThrow(/not SentinelStream's fork.*patch-package/);
  });
});

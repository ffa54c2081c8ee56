import { describe, expect, it } from "vitest";
import { replicationFor } from "../../../src/kafka/topics.ts";

describe("topic replication", () => {
  it("follows the cluster's size unless configured", () => {
    const auto = { replicationFactor: undefined, minInsyncReplicas: undefined };
    expect(replicationFor(1, auto)).toEqual({ replicationFactor: 1, minInsyncReplicas: 1 });
    expect(replicationFor(2, auto)).toEqual({ replicationFactor: 2, minInsyncReplicas: 1 });
    expect(replicationFor(3, auto)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2 });
    expect(replicationFor(5, auto)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2 });
    expect(replicationFor(5, { replicationFactor: 5, minInsyncReplicas: 3 })).toEqual({
      replicationFactor: 5,
      minInsyncReplicas: 3,
    });
  });
});

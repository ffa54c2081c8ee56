import { describe, expect, it } from "vitest";
import { clusterId } from "../../../src/stack/kafka-broker.ts";

describe("KRaft cluster id", () => {
  it("is 22 base64url characters and never starts with '-' (the storage tool would take it for an option)", () => {
    for (let i = 0; i < 5_000; i++) {
      const id = clusterId();
      expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    }
  });
});

import { describe, expect, it } from "vitest";
import { labelSource } from "../../../src/cases/labels-plugin.ts";

/* Issue 35, item 7: a label's source comes from the key's role, not from what the caller says. */
describe("a label's source", () => {
  it("an analyst records analyst or customer labels, never a chargeback", () => {
    expect(labelSource("analyst", undefined)).toBe("analyst");
    expect(labelSource("analyst", "customer")).toBe("customer");
    expect(() => labelSource("analyst", "chargeback")).toThrow(
      /analyst role may label with source analyst or customer/,
    );
  });

  it("the chargeback feed's ingest key records chargebacks only; an admin any", () => {
    expect(labelSource("ingest", undefined)).toBe("chargeback");
    expect(() => labelSource("ingest", "analyst")).toThrow(/not analyst/);
    expect(labelSource("admin", "customer")).toBe("customer");
    expect(labelSource("admin", undefined)).toBe("analyst");
    expect(labelSource("admin", "chargeback")).toBe("chargeback");
  });
});

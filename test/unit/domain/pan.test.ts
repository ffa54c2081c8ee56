import { describe, expect, it } from "vitest";
import { findPans, looksLikePan, luhnValid } from "../../../src/domain/pan.ts";

describe("PAN detection", () => {
  it("recognises Luhn-valid card numbers, grouped or not", () => {
    expect(looksLikePan("4111111111111111")).toBe(true);
    expect(looksLikePan("4111 1111 1111 1111")).toBe(true);
    expect(looksLikePan("5500-0000-0000-0004")).toBe(true);
    expect(looksLikePan("378282246310005")).toBe(true); // 15-digit Amex
  });

  it("ignores what is not a card number", () => {
    expect(looksLikePan("4111111111111112")).toBe(false); // Luhn fails
    expect(looksLikePan("411111111111")).toBe(false); // 12 digits
    expect(looksLikePan("41111111111111111111")).toBe(false); // 20 digits
    expect(looksLikePan("user-4111111111111111")).toBe(false);
    expect(looksLikePan("12.50")).toBe(false);
    expect(luhnValid("79927398713")).toBe(true);
  });

  it("finds PANs anywhere in a body, with their paths", () => {
    expect(
      findPans({ user_id: "u1", metadata: { note: "4111 1111 1111 1111" }, list: ["x", 4111111111111111] }),
    ).toEqual(["metadata.note", "list.1"]);
    expect(findPans({ amount: "12.50" })).toEqual([]);
  });
});

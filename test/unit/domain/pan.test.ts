import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findPans, looksLikePan, luhnValid, maskPans, panSpans } from "../../../src/domain/pan.ts";
import { maskPanBytes } from "../../../src/domain/pan-bytes.ts";

describe("PAN detection", () => {
  it("recognises Luhn-valid card numbers, grouped or not", () => {
    expect(looksLikePan("4111111111111111")).toBe(true);
    expect(looksLikePan("4111 1111 1111 1111")).toBe(true);
    expect(looksLikePan("5500-0000-0000-0004")).toBe(true);
    expect(looksLikePan("378282246310005")).toBe(true); // 15-digit Amex
    expect(looksLikePan("4111.1111.1111.1111")).toBe(true);
    expect(looksLikePan("4111/1111/1111/1111")).toBe(true);
    expect(looksLikePan("4111_1111_1111_1111")).toBe(true);
  });

  it("ignores what is not a card number", () => {
    expect(looksLikePan("4111111111111112")).toBe(false); // Luhn fails
    expect(looksLikePan("411111111111")).toBe(false); // 12 digits
    expect(looksLikePan("41111111111111111111")).toBe(false); // 20 digits, one run
    expect(looksLikePan("12.50")).toBe(false);
    expect(panSpans("2026-01-31T12:00:00Z")).toEqual([]);
    expect(panSpans("order 4111111111111112 ref 12")).toEqual([]);
    expect(luhnValid("79927398713")).toBe(true);
  });

  it("does not take UUIDs or hex hashes for card numbers", () => {
    // A UUID whose digit groups hold a Luhn-valid 16-digit run (such UUIDs are generated at random).
    expect(panSpans("41111111-1111-1111-abcd-0123456789ab")).toEqual([]);
    // Digits inside an identifier that holds other digits too: a hash, not a card number.
    expect(panSpans("9f4111111111111111e0c")).toEqual([]);
    expect(panSpans("id-4111111111111111")).toEqual([[3, 19]]);
  });

  it("sees card numbers with letters glued to them or doubled separators (issue 20)", () => {
    // Each of these passed before issue 20.
    expect(panSpans("cc4111111111111111")).toEqual([[2, 18]]);
    expect(panSpans("user4111111111111111x")).toEqual([[4, 20]]);
    expect(panSpans("a4111111111111111")).toEqual([[1, 17]]);
    expect(panSpans("4111  1111  1111  1111")).toEqual([[0, 22]]);
    expect(panSpans("card 4111 - 1111 - 1111 - 1111")).toEqual([[5, 30]]);
    expect(maskPans("cc4111  1111  1111  1111")).toBe("cc4111  11**  ****  1111");
  });

  it("scans any depth of nesting without recursion (issue 20)", () => {
    // 100,000 levels overflowed the recursive scan (a 500 over HTTP).
    let deep: unknown = "4111111111111111";
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findPans({ a: deep }).length).toBe(1);
    let clean: unknown = "x";
    for (let i = 0; i < 100_000; i++) clean = { k: clean };
    expect(findPans(clean)).toEqual([]);
  });

  it("passes random UUIDs and hex hashes (property)", () => {
    fc.assert(
      fc.property(fc.uuid(), fc.stringMatching(/^[0-9a-f]{64}$/), (uuid, hash) => {
        expect(panSpans(uuid)).toEqual([]);
        expect(findPans({ transaction_id: uuid, device_id: hash })).toEqual([]);
      }),
      { numRuns: 2_000 },
    );
  });

  it("finds card numbers inside text, beside labels and expiry dates (issue 11)", () => {
    expect(panSpans("card 4111111111111111")).toEqual([[5, 21]]);
    expect(panSpans("user-4111111111111111")).toEqual([[5, 21]]);
    expect(panSpans("user_4111111111111111")).toEqual([[5, 21]]);
    expect(panSpans("4111 1111 1111 1111 12/27")).toEqual([[0, 19]]);
    expect(panSpans("a 4111111111111111 b 5500-0000-0000-0004")).toEqual([
      [2, 18],
      [21, 40],
    ]);
  });

  it("finds PANs anywhere in a body — values, keys, numbers — with masked paths", () => {
    expect(
      findPans({ user_id: "u1", metadata: { note: "4111 1111 1111 1111" }, list: ["x", 4111111111111111] }),
    ).toEqual(["metadata.note", "list.1"]);
    expect(findPans({ amount: "12.50" })).toEqual([]);
    expect(findPans({ user_id: "4111.1111.1111.1111" })).toEqual(["user_id"]);
    expect(findPans({ metadata: { "4111111111111111": "x" } })).toEqual(["metadata.411111******1111"]);
    expect(findPans({ metadata: { note: "card 4111111111111111" } })).toEqual(["metadata.note"]);
  });

  it("masks all but the first 6 and last 4 digits, keeping separators and length", () => {
    expect(maskPans("card 4111 1111 1111 1111 ok")).toBe("card 4111 11** **** 1111 ok");
    expect(maskPans("4111111111111111")).toBe("411111******1111");
    expect(maskPans("nothing 12345")).toBe("nothing 12345");
    const bytes = Buffer.concat([Buffer.from([0, 0, 0, 0, 7]), Buffer.from('{"n":"é 4111111111111111"}')]);
    const { value, masked } = maskPanBytes(bytes);
    expect(masked).toBe(true);
    expect(value.subarray(0, 5)).toEqual(bytes.subarray(0, 5));
    expect(value.subarray(5).toString("utf8")).toBe('{"n":"é 411111******1111"}');
  });

  it("never leaves a detectable PAN after masking (property)", () => {
    const chunk = fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.stringMatching(/^[0-9]{4}([ .\-/_]?[0-9]{4}){2,4}$/),
      fc.constantFrom("4111111111111111", "5500 0000 0000 0004", "378282246310005"),
    );
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 6 }), (parts) => {
        const text = parts.join(" ");
        const masked = maskPans(text);
        expect(masked.length).toBe(text.length);
        expect(panSpans(masked)).toEqual([]);
      }),
    );
  });
});

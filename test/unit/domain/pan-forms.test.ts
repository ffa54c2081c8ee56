import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { containsPanText, findPans, luhnValid, maskPans } from "../../../src/domain/pan.ts";
import { maskPanBytes } from "../../../src/domain/pan-bytes.ts";

/*
 * Issue 35, item 4: card numbers in every form. Before, the detector missed tabs, newlines,
 * commas, colons and non-breaking spaces as separators, runs of more than three separators,
 * full-width digits, and digits glued to letters on both sides ("card4111…1111exp1225").
 */

/** A Luhn-valid number of 13–19 digits. */
const pan = fc
  .tuple(
    fc.integer({ min: 13, max: 19 }),
    fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 18, maxLength: 18 }),
  )
  .map(([length, digits]) => {
    const body = [4, ...digits].slice(0, length - 1).join("");
    for (let check = 0; check <= 9; check++) if (luhnValid(body + check)) return body + check;
    throw new Error("unreachable");
  });

const SEPARATORS = [
  " ",
  "\t",
  "\n",
  "\r\n",
  ",",
  ":",
  ";",
  "-",
  ".",
  "/",
  "_",
  "|",
  "\u00a0",
  "\u2007",
  "\u3000",
];
const separatorRun = fc
  .array(fc.constantFrom(...SEPARATORS), { minLength: 1, maxLength: 5 })
  .map((s) => s.join("").slice(0, 5));
const FULL_WIDTH = (d: string) => String.fromCharCode(0xff10 + Number(d));

/** The number written in one of the forms a person or a system might use. */
const written = fc
  .record({
    number: pan,
    cuts: fc.array(fc.integer({ min: 1, max: 18 }), { maxLength: 5 }),
    separator: separatorRun,
    fullWidth: fc.boolean(),
    before: fc.constantFrom("", "card ", "cc", "card:", "x", "pan=", "Karte "),
    after: fc.constantFrom("", " exp", "exp1225", "y2", " 12/27", "!", "\u00a0ok"),
  })
  .map(({ number, cuts, separator, fullWidth, before, after }) => {
    const at = [...new Set(cuts.filter((c) => c < number.length))].sort((a, b) => a - b);
    const groups: string[] = [];
    let from = 0;
    for (const c of at) {
      groups.push(number.slice(from, c));
      from = c;
    }
    groups.push(number.slice(from));
    const digits = groups.join(separator);
    return before + (fullWidth ? digits.replace(/\d/g, FULL_WIDTH) : digits) + after;
  });

describe("card numbers in every form (property)", () => {
  it("are found in text, in a body, and gone once masked", () => {
    fc.assert(
      fc.property(written, (text) => {
        expect(containsPanText(text)).toBe(true);
        expect(findPans({ metadata: { note: text } })).toEqual(["metadata.note"]);
        const masked = maskPans(text);
        expect(containsPanText(masked)).toBe(false);
        const bytes = maskPanBytes(Buffer.from(JSON.stringify({ note: text })));
        expect(bytes.masked).toBe(true);
        expect(containsPanText(bytes.value.toString("utf8"))).toBe(false);
      }),
      { numRuns: 2_000 },
    );
  });

  it("the forms the review named, one by one", () => {
    for (const text of [
      "4111\t1111\t1111\t1111",
      "4111\n1111\n1111\n1111",
      "4111,1111,1111,1111",
      "4111:1111:1111:1111",
      "4111\u00a01111\u00a01111\u00a01111",
      "4111 -- 1111 -- 1111 -- 1111",
      "４１１１１１１１１１１１１１１１",
      "card4111-1111-1111-1111exp1225",
      "x4111111111111111y2",
    ]) {
      expect(containsPanText(text), JSON.stringify(text)).toBe(true);
    }
  });

  it("still lets through what real traffic carries: times, addresses, UUIDs, hex hashes", () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date("2000-01-01"), max: new Date("2099-12-31"), noInvalidDate: true }),
        (d) => {
          const iso = d.toISOString(); // 2026-01-31T12:00:00.123Z
          expect(containsPanText(iso)).toBe(false);
          expect(containsPanText(iso.replace("Z", "+01:00"))).toBe(false);
        },
      ),
    );
    fc.assert(fc.property(fc.ipV6(), (ip) => !containsPanText(ip)));
    fc.assert(fc.property(fc.uuid(), (id) => !containsPanText(id)));
    expect(containsPanText("9f4111111111111111e0c")).toBe(false);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AnalystName } from "../../../src/cases/cases-plugin.ts";
import { loadConfig } from "../../../src/config.ts";
import { FreeText, textWithoutPan } from "../../../src/domain/free-text.ts";
import { findPans, luhnValid } from "../../../src/domain/pan.ts";
import { UserIdParam } from "../../../src/ingest/profiles-plugin.ts";
import { defaultRuleSet } from "../../../src/rules/default-rule-set.ts";
import { validateRuleSet } from "../../../src/rules/rule-language.ts";

/*
 * Issue 20, law 7 for every free-text input: a card number, however it is written (groups, one to
 * three separators, letters glued to it), is refused by each of them — the analyst's note, an
 * analyst's name, a list value, a rule set document, a user id in a path, a key's name.
 */

/** A Luhn-valid 16-digit number starting 4 (a Visa test range). */
const pan = fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 14, maxLength: 14 }).map((digits) => {
  const body = `4${digits.join("")}`;
  for (let check = 0; check < 10; check++) if (luhnValid(body + check)) return body + check;
  throw new Error("unreachable");
});
/** The number as people write it: in groups of four with 0–3 separators, letters before or not. */
const written = fc
  .record({
    pan,
    separator: fc.constantFrom("", " ", "-", ".", "  ", " - ", "_"),
    prefix: fc.constantFrom("", "card ", "cc", "x", "pan:"),
    suffix: fc.constantFrom("", " 12/27", " ok"),
  })
  .map(({ pan: p, separator, prefix, suffix }) => ({
    text: `${prefix}${p.match(/.{4}/g)!.join(separator)}${suffix}`,
    // As a name or an id can hold it: letters glued to the digits, no separators.
    compact: `${prefix.replace(/[^A-Za-z]/g, "")}${p}`,
  }));

const refuses = (schema: { safeParse(v: unknown): { success: boolean } }, value: unknown) =>
  !schema.safeParse(value).success;

describe("every free-text input refuses a card number (property)", () => {
  it("note, analyst name, list value, user id, rule set document, key name", () => {
    const base = defaultRuleSet(loadConfig({}).rules);
    fc.assert(
      fc.property(written, ({ text, compact }) => {
        expect(findPans({ text })).toHaveLength(1);
        expect(refuses(FreeText, `called the customer, ${text}`)).toBe(true);
        expect(refuses(textWithoutPan(256), text)).toBe(true); // list values
        expect(refuses(AnalystName, compact)).toBe(true);
        expect(refuses(UserIdParam, compact)).toBe(true);
        expect(validateRuleSet({ ...base, description: text }).ok).toBe(false);
        expect(() => loadConfig({ API_KEYS: `analyst:${compact}:key-000000000000001` })).toThrow();
      }),
      { numRuns: 500 },
    );
  });

  it("leaves ordinary text alone", () => {
    expect(refuses(FreeText, "called the customer on 2026-11-30, order 12345, amount 4111.11")).toBe(false);
    expect(refuses(AnalystName, "ann.smith")).toBe(false);
    expect(refuses(UserIdParam, "user-0001234")).toBe(false);
  });
});

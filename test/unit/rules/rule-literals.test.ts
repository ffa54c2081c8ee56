import { describe, expect, it } from "vitest";
import { compare, literalDecs } from "../../../src/rules/decimal-values.ts";
import { type Expr, type RuleSet, validateRuleSet } from "../../../src/rules/rule-language.ts";

/*
 * Issue 35, item 6: rule literals are bounded at publish (a literal of thousands of digits was
 * re-parsed, with large powers of ten, at every evaluation) and a rule set's decimal literals are
 * parsed once.
 */

const withLiteral = (literal: Expr): unknown => ({
  format: 1,
  thresholds: { review: 50, decline: 80 },
  rules: [{ id: "r", description: "test", when: { op: ">", args: [{ op: "amount" }, literal] }, score: 60 }],
});

describe("rule literals", () => {
  it("refuses a string literal over 256 characters, or a number of more than 18.8 digits, at publish", () => {
    for (const literal of [
      "x".repeat(257),
      "9".repeat(5_000),
      `1.${"0".repeat(9)}`,
      1e300,
      0.123456789,
      2 ** 70,
    ]) {
      const checked = validateRuleSet(withLiteral(literal));
      expect(checked.ok, String(literal).slice(0, 20)).toBe(false);
    }
    for (const literal of ["x".repeat(256), "5411", "1000.00", "-12.5", 1000, 0.5, "DE"]) {
      expect(validateRuleSet(withLiteral(literal)).ok, String(literal).slice(0, 20)).toBe(true);
    }
  });

  it("a rule set's decimal literals compare exactly as before, parsed once per rule set", () => {
    const checked = validateRuleSet(withLiteral("1000.00"));
    if (!checked.ok) throw new Error("valid");
    const ruleSet: RuleSet = checked.ruleSet;
    const decOf = literalDecs(ruleSet);
    expect(literalDecs(ruleSet)).toBe(decOf); // memoised per rule set
    expect(decOf("1000.00")).toEqual({ units: 100000n, scale: 2 });
    expect(compare(">", "1000.01", "1000.00", decOf)).toBe(true);
    expect(compare("==", "1000", "1000.00", decOf)).toBe(true);
    expect(compare("<", "DE", "FR", decOf)).toBe(true); // strings stay strings
  });
});

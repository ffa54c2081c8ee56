import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  convertMinorUnits,
  formatMinorUnits,
  fractionDigits,
  toMinorUnits,
} from "../../../src/domain/money.ts";

describe("money", () => {
  it("converts decimal strings to minor units exactly", () => {
    expect(toMinorUnits("12.50", "USD")).toBe(1250n);
    expect(toMinorUnits("0.1", "USD")).toBe(10n);
    expect(toMinorUnits("1000", "JPY")).toBe(1000n);
    expect(toMinorUnits("1.234", "BHD")).toBe(1234n);
    expect(toMinorUnits("999999999999999999.99", "USD")).toBe(99999999999999999999n);
  });

  it("rounds half-up when given more digits than the currency has", () => {
    expect(toMinorUnits("0.005", "USD")).toBe(1n);
    expect(toMinorUnits("0.004", "USD")).toBe(0n);
  });

  it("formats minor units back", () => {
    expect(formatMinorUnits(1250n, "USD")).toBe("12.50");
    expect(formatMinorUnits(5n, "USD")).toBe("0.05");
    expect(formatMinorUnits(1000n, "JPY")).toBe("1000");
    expect(formatMinorUnits(1n, "BHD")).toBe("0.001");
  });

  it("round-trips every amount through minor units (property)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 20n }),
        fc.constantFrom("USD", "JPY", "BHD", "CLF"),
        (units, c) => {
          expect(toMinorUnits(formatMinorUnits(units, c), c)).toBe(units);
        },
      ),
    );
  });

  it("converts between currencies at an exact rate", () => {
    expect(convertMinorUnits(10000n, "EUR", "USD", "1.08")).toBe(10800n);
    expect(convertMinorUnits(1n, "USD", "JPY", "150.5")).toBe(2n); // 0.01 USD = 1.505 JPY → 2
    expect(convertMinorUnits(100n, "JPY", "USD", "0.0067")).toBe(67n);
  });

  it("never loses a cent where floats would (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 10_000_000 }), { maxLength: 50 }), (cents) => {
        const sum = cents.reduce((s, c) => s + toMinorUnits(formatMinorUnits(BigInt(c), "USD"), "USD"), 0n);
        expect(sum).toBe(BigInt(cents.reduce((s, c) => s + c, 0)));
      }),
    );
  });

  it("reads fraction digits", () => {
    expect(fractionDigits("10")).toBe(0);
    expect(fractionDigits("10.500")).toBe(3);
  });
});

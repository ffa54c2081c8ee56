import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CURRENCY_MINOR_UNITS } from "../../../src/domain/iso4217.ts";
import {
  createTransactionInputSchema,
  createTransactionSchema,
  validateTransaction,
} from "../../../src/domain/transaction.ts";

const NOW = Date.parse("2026-06-01T12:00:00Z");
const input = createTransactionInputSchema(() => NOW);
const wire = createTransactionSchema(() => NOW);
const base = { user_id: "user-1", amount: "12.50", currency: "USD" };

function issuesOf(body: unknown) {
  const r = validateTransaction(input, body);
  if (r.ok) throw new Error(`expected a rejection of ${JSON.stringify(body)}`);
  return r;
}

describe("transaction validation: accepted bodies", () => {
  it.each([
    ["minimal", base],
    [
      "every field",
      {
        ...base,
        transaction_id: "0190a6e4-8e3c-7c53-a2b1-1f2e3d4c5b6a",
        timestamp: "2026-06-01T11:59:00+02:00",
        merchant_id: "m-42",
        merchant_category: "5411",
        country: "DE",
        channel: "ecommerce",
        device_id: "dev-1",
        ip: "2001:db8::1",
        metadata: { order: "A-1" },
      },
    ],
    ["JPY without fraction", { ...base, amount: "1500", currency: "JPY" }],
    ["BHD with 3 digits", { ...base, amount: "1.234", currency: "BHD" }],
    ["exact JSON number", { ...base, amount: 12.5 }],
    ["timestamp 4 minutes ahead", { ...base, timestamp: "2026-06-01T12:04:00Z" }],
    ["user id with all allowed characters", { ...base, user_id: "A-z_0.9:x" }],
  ])("%s", (_name, body) => {
    const r = validateTransaction(input, body);
    expect(r.ok).toBe(true);
  });

  it("turns a JSON number amount into a string", () => {
    const r = validateTransaction(input, { ...base, amount: 7 });
    expect(r.ok && r.value.amount).toBe("7");
  });
});

describe("transaction validation: rejected bodies", () => {
  it.each([
    ["unknown field", { ...base, colour: "red" }, ["colour"]],
    ["missing user_id", { amount: "1", currency: "USD" }, ["user_id"]],
    ["bad user_id", { ...base, user_id: "has space" }, ["user_id"]],
    ["user_id too long", { ...base, user_id: "u".repeat(65) }, ["user_id"]],
    ["amount zero", { ...base, amount: "0.00" }, ["amount"]],
    ["negative amount", { ...base, amount: "-1" }, ["amount"]],
    ["amount with exponent", { ...base, amount: "1e3" }, ["amount"]],
    ["amount leading zeros", { ...base, amount: "012" }, ["amount"]],
    ["too many fraction digits for USD", { ...base, amount: "1.001" }, ["amount"]],
    ["fraction for JPY", { ...base, amount: "1.5", currency: "JPY" }, ["amount"]],
    ["inexact float", { ...base, amount: 0.1 + 0.2 }, ["amount"]],
    ["amount as boolean", { ...base, amount: true }, ["amount"]],
    ["lower-case currency", { ...base, currency: "usd" }, ["currency"]],
    ["unknown currency", { ...base, currency: "XYZ" }, ["currency"]],
    ["precious metal", { ...base, currency: "XAU" }, ["currency"]],
    ["bad uuid", { ...base, transaction_id: "123" }, ["transaction_id"]],
    ["timestamp without offset", { ...base, timestamp: "2026-06-01T12:00:00" }, ["timestamp"]],
    ["impossible date", { ...base, timestamp: "2026-02-30T12:00:00Z" }, ["timestamp"]],
    ["timestamp 6 minutes ahead", { ...base, timestamp: "2026-06-01T12:06:00Z" }, ["timestamp"]],
    [
      "timestamp in year 0 (PostgreSQL has none)",
      { ...base, timestamp: "0000-01-01T00:00:00Z" },
      ["timestamp"],
    ],
    ["timestamp before 1970", { ...base, timestamp: "1969-12-31T23:59:59Z" }, ["timestamp"]],
    ["NUL in merchant_id (PostgreSQL text rejects it)", { ...base, merchant_id: "m\u0000" }, ["merchant_id"]],
    ["NUL in device_id", { ...base, device_id: "\u0000" }, ["device_id"]],
    ["lone surrogate in device_id (PostgreSQL rejects it)", { ...base, device_id: "d\ud800" }, ["device_id"]],
    ["NUL in a metadata value", { ...base, metadata: { note: "a\u0000b" } }, ["metadata.note"]],
    ["NUL in a metadata key", { ...base, metadata: { "k\u0000": "v" } }, ["metadata.k\u0000"]],
    ["bad MCC", { ...base, merchant_category: "54111" }, ["merchant_category"]],
    ["bad country", { ...base, country: "XX" }, ["country"]],
    ["bad channel", { ...base, channel: "fax" }, ["channel"]],
    ["bad ip", { ...base, ip: "300.1.1.1" }, ["ip"]],
    ["nested metadata", { ...base, metadata: { a: { b: "c" } } }, ["metadata.a"]],
    [
      "too many metadata keys",
      { ...base, metadata: Object.fromEntries([...Array(17)].map((_, i) => [`k${i}`, "v"])) },
      ["metadata"],
    ],
    [
      "oversized metadata",
      { ...base, metadata: { a: "x".repeat(1000), b: "x".repeat(1000), c: "x".repeat(100) } },
      ["metadata"],
    ],
    ["array body", [base], ["(body)"]],
  ])("%s", (_name, body, paths) => {
    const r = issuesOf(body);
    expect(r.code).toBe("validation_failed");
    expect(r.issues.map((i) => i.path)).toEqual(paths);
  });

  it("lists every bad field, not just the first", () => {
    const r = issuesOf({ user_id: "", amount: "x", currency: "ABC", country: "ZZ", extra: 1 });
    expect(r.issues.map((i) => i.path).sort()).toEqual(["amount", "country", "currency", "extra", "user_id"]);
  });

  it("refuses card numbers anywhere as pan_not_allowed", () => {
    const r = issuesOf({ ...base, metadata: { card: "4111111111111111" } });
    expect(r.code).toBe("pan_not_allowed");
    expect(r.issues[0]!.path).toBe("metadata.card");
  });

  it("refuses an amount that could be a card number (law 7 wins)", () => {
    expect(issuesOf({ ...base, amount: "4111111111111111", currency: "VND" }).code).toBe("pan_not_allowed");
  });

  it("requires transaction_id on the wire", () => {
    expect(validateTransaction(wire, base).ok).toBe(false);
  });
});

describe("transaction validation: properties", () => {
  const currencies = [...CURRENCY_MINOR_UNITS.entries()];

  // Up to 12 digits: a 13-19 digit amount that passes Luhn is refused as a possible card number.
  it("accepts any positive amount with up to the currency's digits", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...currencies),
        fc.bigInt({ min: 1n, max: 10n ** 12n - 1n }),
        ([currency, digits], units) => {
          const s = units.toString().padStart(digits + 1, "0");
          const amount = digits === 0 ? s : `${s.slice(0, -digits)}.${s.slice(-digits)}`;
          expect(validateTransaction(input, { ...base, currency, amount }).ok).toBe(true);
        },
      ),
    );
  });

  it("rejects one digit more than the currency allows", () => {
    fc.assert(
      fc.property(fc.constantFrom(...currencies.filter(([, d]) => d < 4)), ([currency, digits]) => {
        const amount = `1.${"1".repeat(digits + 1)}`;
        const r = validateTransaction(input, { ...base, currency, amount });
        expect(r.ok).toBe(false);
      }),
    );
  });

  it("rejects every three-letter code that is not an active ISO 4217 currency", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Z]{3}$/), (code) => {
        const r = validateTransaction(input, { ...base, currency: code, amount: "1" });
        expect(r.ok).toBe(CURRENCY_MINOR_UNITS.has(code));
      }),
    );
  });
});

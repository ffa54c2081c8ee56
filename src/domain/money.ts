import { minorUnits } from "./iso4217.ts";

/*
 * Money is exact (law 6): amounts travel as decimal strings and are computed as bigint minor units.
 * No amount is ever held in a binary float.
 */

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/** A non-negative decimal string as an integer and a scale: "12.50" → { units: 1250n, scale: 2 }. */
export function parseDecimal(value: string): { units: bigint; scale: number } {
  const m = DECIMAL.exec(value);
  if (!m) throw new RangeError(`not a decimal: ${value}`);
  const fraction = m[2] ?? "";
  return { units: BigInt(m[1]! + fraction), scale: fraction.length };
}

/** Number of fraction digits written in a decimal string ("10.50" → 2). */
export function fractionDigits(value: string): number {
  const dot = value.indexOf(".");
  return dot < 0 ? 0 : value.length - dot - 1;
}

const POW10 = Array.from({ length: 40 }, (_, i) => 10n ** BigInt(i));
const pow10 = (n: number): bigint => POW10[n] ?? 10n ** BigInt(n);
const ZEROS = "0".repeat(40);

/** Rescales with round-half-up (amounts are non-negative). */
function rescale(units: bigint, from: number, to: number): bigint {
  if (to >= from) return units * pow10(to - from);
  const divisor = pow10(from - to);
  const q = units / divisor;
  return (units % divisor) * 2n >= divisor ? q + 1n : q;
}

/**
 * A decimal string in the currency's minor units, rounding half-up when it has more digits than
 * the currency allows (callers that must reject such input validate first).
 * @throws RangeError for an unknown currency or a malformed decimal.
 */
export function toMinorUnits(amount: string, currency: string): bigint {
  const digits = minorUnits(currency);
  if (digits === undefined) throw new RangeError(`unknown currency: ${currency}`);
  // The usual case (no more fraction digits than the currency has) without arithmetic: the digits,
  // padded with zeros, are the minor units. It runs for every amount a round sums.
  if (!DECIMAL.test(amount)) throw new RangeError(`not a decimal: ${amount}`);
  const dot = amount.indexOf(".");
  const scale = dot < 0 ? 0 : amount.length - dot - 1;
  if (scale <= digits && digits - scale <= ZEROS.length) {
    const whole = dot < 0 ? amount : amount.slice(0, dot) + amount.slice(dot + 1);
    return BigInt(whole + ZEROS.slice(0, digits - scale));
  }
  const { units } = parseDecimal(amount);
  return rescale(units, scale, digits);
}

/** Minor units back to the canonical decimal string of the currency ("1250", USD → "12.50"). */
export function formatMinorUnits(units: bigint, currency: string): string {
  const digits = minorUnits(currency);
  if (digits === undefined) throw new RangeError(`unknown currency: ${currency}`);
  const negative = units < 0n;
  const abs = (negative ? -units : units).toString().padStart(digits + 1, "0");
  const text = digits === 0 ? abs : `${abs.slice(0, -digits)}.${abs.slice(-digits)}`;
  return negative ? `-${text}` : text;
}

/**
 * Converts minor units of `from` into minor units of `to` at an exact decimal `rate`
 * (1 unit of `from` = rate units of `to`), rounding half-up.
 */
export function convertMinorUnits(units: bigint, from: string, to: string, rate: string): bigint {
  const fromDigits = minorUnits(from);
  const toDigits = minorUnits(to);
  if (fromDigits === undefined || toDigits === undefined)
    throw new RangeError(`unknown currency: ${from}/${to}`);
  const r = parseDecimal(rate);
  return rescale(units * r.units, fromDigits + r.scale, toDigits);
}

/**
 * Minor units of `amount` (in `currency`) in `target`, converted by `rates` ("EUR:USD" → "1.08"),
 * or undefined when no rate converts it.
 */
export function minorUnitsIn(
  rates: Readonly<Record<string, string>>,
  amount: string,
  currency: string,
  target: string,
): bigint | undefined {
  return unitsIn(rates, toMinorUnits(amount, currency), currency, target);
}

/** `units` minor units of `currency` in minor units of `target`, or undefined when no rate converts them. */
export function unitsIn(
  rates: Readonly<Record<string, string>>,
  units: bigint,
  currency: string,
  target: string,
): bigint | undefined {
  if (currency === target) return units;
  const rate = rates[`${currency}:${target}`];
  return rate === undefined ? undefined : convertMinorUnits(units, currency, target, rate);
}

import { parseDecimal } from "../domain/money.ts";
import type { Expr, RuleSet } from "./rule-language.ts";

/*
 * The values rules compute with (evaluator.ts): exact decimals as (units, scale) bigints, strings,
 * booleans, null; their comparison and arithmetic. A wrong type or a missing operand is null, and
 * a comparison with null is false. Literals are converted once: numbers by value, a rule set's
 * decimal-looking strings once per rule set (issue 35: before, every evaluation parsed them again).
 */

export type Dec = { units: bigint; scale: number };
export type Value = null | boolean | string | Dec;
/** A value as a decimal, or null when it is none. */
export type DecOf = (v: Value) => Dec | null;

const isDec = (v: Value): v is Dec => typeof v === "object" && v !== null;

export function dec(v: Value | number): Dec | null {
  if (isDec(v as Value)) return v as Dec;
  if (typeof v === "number") return Number.isSafeInteger(v) ? { units: BigInt(v), scale: 0 } : dec(String(v));
  if (typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v)) {
    const negative = v.startsWith("-");
    const { units, scale } = parseDecimal(negative ? v.slice(1) : v);
    return { units: negative ? -units : units, scale };
  }
  return null;
}

// Number literals of rule sets, converted once (a rule set has a few; cleared if ever many).
const literals = new Map<number, Dec | null>();
export function numberLiteral(n: number): Dec | null {
  let d = literals.get(n);
  if (d === undefined) {
    if (literals.size > 10_000) literals.clear();
    d = dec(n);
    literals.set(n, d);
  }
  return d;
}

function align(a: Dec, b: Dec): [bigint, bigint, number] {
  const scale = Math.max(a.scale, b.scale);
  return [a.units * 10n ** BigInt(scale - a.scale), b.units * 10n ** BigInt(scale - b.scale), scale];
}

export function compare(op: string, x: Value, y: Value, decOf: DecOf = dec): boolean {
  if (x === null || y === null) return false;
  const a = decOf(x);
  const b = decOf(y);
  let c: number;
  if (a && b) {
    const [ua, ub] = align(a, b);
    c = ua < ub ? -1 : ua > ub ? 1 : 0;
  } else if (typeof x === "string" && typeof y === "string") {
    c = x < y ? -1 : x > y ? 1 : 0;
  } else if (typeof x === "boolean" && typeof y === "boolean") {
    if (op !== "==" && op !== "!=") return false;
    c = x === y ? 0 : 1;
  } else {
    return op === "!=";
  }
  switch (op) {
    case "==":
      return c === 0;
    case "!=":
      return c !== 0;
    case "<":
      return c < 0;
    case "<=":
      return c <= 0;
    case ">":
      return c > 0;
    default:
      return c >= 0;
  }
}

export function arithmetic(op: string, x: Value, y: Value, decOf: DecOf = dec): Value {
  const a = decOf(x);
  const b = decOf(y);
  if (!a || !b) return null;
  if (op === "*") return { units: a.units * b.units, scale: a.scale + b.scale };
  const [ua, ub, scale] = align(a, b);
  return { units: op === "+" ? ua + ub : ua - ub, scale };
}

const DECIMAL = /^-?\d+(\.\d+)?$/;
const compiled = new WeakMap<RuleSet, DecOf>();

/**
 * `dec`, with the rule set's decimal-looking string literals parsed once (memoised per rule set
 * object: a rule set is immutable). A string that is not one of them is parsed as before.
 */
export function literalDecs(ruleSet: RuleSet): DecOf {
  let decOf = compiled.get(ruleSet);
  if (!decOf) {
    const literals = new Map<string, Dec | null>();
    const stack: Expr[] = ruleSet.rules.map((r) => r.when);
    while (stack.length > 0) {
      const e = stack.pop()!;
      if (typeof e === "string") {
        if (DECIMAL.test(e)) literals.set(e, dec(e));
      } else if (e && typeof e === "object") {
        if ("args" in e) stack.push(...e.args);
        else if ("arg" in e) stack.push(e.arg);
      }
    }
    decOf = (v) => (typeof v === "string" && literals.has(v) ? literals.get(v)! : dec(v));
    compiled.set(ruleSet, decOf);
  }
  return decOf;
}

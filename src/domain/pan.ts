/*
 * Law 7: no raw card number (PAN) is accepted, stored, published, dead-lettered in clear or logged.
 *
 * A PAN here is 13–19 digits passing the Luhn check, written as consecutive groups of digits with
 * a short run (one to five) of anything but letters and digits between groups — spaces, tabs,
 * newlines, dashes, dots, commas, colons, slashes, non-breaking spaces… ("4111 1111 1111 1111",
 * "4111\t1111\n1111,1111", "4111.1111.1111.1111", "4111111111111111"), full-width digits
 * included (the text is read in Unicode's NFKC form), standalone or inside any
 * text ("card 4111111111111111", "cc4111111111111111", "4111 1111 1111 1111 12/27" — the groups
 * holding 13–19 digits are checked, so an expiry or a label around the number does not hide it).
 * Not a card number: a single run of more than 19 digits without separators, digits inside a hex
 * identifier that holds other digits too (a hash: "9f4111111111111111e0c"), and a string that is
 * one UUID, one RFC 3339 time or one IP address — these hold Luhn-valid digit runs often enough
 * that refusing them would refuse real traffic (about one random UUID in a hundred did, before this
 * rule; a time with fractional seconds and an offset about one in ten, once colons separate).
 * Letters glued to the digits on either side ("cc", "card", "exp1225") do not hide a number unless
 * they are hex letters next to more digits.
 *
 * The trade-off: a 15-digit IMEI and some 13–19 digit reference numbers pass Luhn too and are
 * refused (about one random number in ten passes Luhn); send hashed device ids and references.
 */

import { isIP } from "node:net";

/** At most this many separators between two groups of one number ("4111 -- 1111 -- …"). */
const MAX_SEPARATORS = 5;
const MIN_DIGITS = 13;
const MAX_DIGITS = 19;

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

const isDigit = (c: number) => c >= 48 && c <= 57;
/** Hex letters (NaN, past either end of the text, is none). */
const isHexLetter = (c: number) => (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
const WORD = /[\p{L}\p{N}\p{M}]/u;
/** Anything but a letter or a digit, of any script, separates groups (NaN: none). */
const isSeparator = (text: string, k: number): boolean => {
  const c = text.charCodeAt(k);
  if (Number.isNaN(c)) return false;
  if (c < 128) return !(isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122));
  return !WORD.test(text[k]!);
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** A whole string that is an identifier, a time or an address: never read as a card number. */
const exempt = (text: string) => UUID.test(text) || RFC3339.test(text) || isIP(text) !== 0;

/** Whether the hex letters glued to a digit run at `from` (walking by `step`) lead to a digit: a hash. */
function gluedToDigits(text: string, from: number, step: 1 | -1): boolean {
  if (!isHexLetter(text.charCodeAt(from))) return false;
  for (let k = from; k >= 0 && k < text.length; k += step) {
    const c = text.charCodeAt(k);
    if (isDigit(c)) return true;
    if (!isHexLetter(c)) return false;
  }
  return false;
}

/** `text` as it is scanned: its NFKC form (full-width digits, non-breaking spaces) when not ASCII. */
function forScan(text: string): string {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 127) return text.normalize("NFKC");
  return text;
}

/** [start, end) of each PAN in `text` (character offsets), left to right, not overlapping. */
export function panSpans(text: string): Array<[number, number]> {
  // Quick exit: fewer than 13 digits in all cannot hold a PAN (most strings, on the request path).
  let digits = 0;
  for (let i = 0; i < text.length && digits < MIN_DIGITS; i++) if (isDigit(text.charCodeAt(i))) digits++;
  if (digits < MIN_DIGITS || exempt(text)) return [];

  const spans: Array<[number, number]> = [];
  let i = 0;
  while (i < text.length) {
    if (!isDigit(text.charCodeAt(i))) {
      i++;
      continue;
    }
    // A run: digit groups joined by single separators.
    const groups: Array<[number, number]> = [];
    let start = i;
    for (;;) {
      while (i < text.length && isDigit(text.charCodeAt(i))) i++;
      groups.push([start, i]);
      let j = i;
      while (j < text.length && j - i < MAX_SEPARATORS && isSeparator(text, j)) j++;
      if (j > i && isDigit(text.charCodeAt(j))) {
        start = i = j;
        continue;
      }
      break;
    }
    // Groups inside an identifier that holds other digits too (a hex hash) are not a card number.
    if (gluedToDigits(text, groups[0]![0] - 1, -1)) groups.shift();
    if (groups.length > 0 && gluedToDigits(text, groups[groups.length - 1]![1], 1)) groups.pop();
    for (let g = 0; g < groups.length; g++) {
      let count = 0;
      let joined = "";
      for (let h = g; h < groups.length; h++) {
        const [a, b] = groups[h]!;
        count += b - a;
        if (count > MAX_DIGITS) break;
        joined += text.slice(a, b);
        if (count >= MIN_DIGITS && luhnValid(joined)) {
          spans.push([groups[g]![0], b]);
          g = h; // continue after this PAN
          break;
        }
      }
    }
  }
  return spans;
}

/** Whether `text` holds a PAN anywhere (in any of the forms above). */
export function containsPanText(text: string): boolean {
  return panSpans(forScan(text)).length > 0;
}

/** A string that is one PAN and nothing else (kept for the tests and callers that need it). */
export function looksLikePan(value: string): boolean {
  const scanned = forScan(value);
  const spans = panSpans(scanned);
  return spans.length === 1 && spans[0]![0] === 0 && spans[0]![1] === scanned.length;
}

/**
 * `text` with every PAN masked: the first 6 and last 4 digits kept, the others replaced by `*`,
 * separators kept. Text without a PAN comes back as it is; text with one, in its NFKC form
 * (full-width digits masked as ASCII ones).
 */
export function maskPans(text: string): string {
  const scanned = forScan(text);
  if (panSpans(scanned).length === 0) return text;
  // Masking one number can leave digits that join their neighbours into another: mask again
  // until nothing is found (bounded; in the end every digit of a run that still matches goes).
  let out = scanned;
  for (let pass = 0; pass < 8; pass++) {
    const next = maskOnce(out, false);
    if (next === out) return out;
    out = next;
  }
  return maskOnce(out, true);
}

function maskOnce(text: string, everything: boolean): string {
  const spans = panSpans(text);
  if (spans.length === 0) return text;
  let out = "";
  let at = 0;
  for (const [a, b] of spans) {
    out += text.slice(at, a);
    let total = 0;
    for (let k = a; k < b; k++) if (isDigit(text.charCodeAt(k))) total++;
    let seen = 0;
    for (let k = a; k < b; k++) {
      const c = text[k]!;
      if (!isDigit(c.charCodeAt(0))) {
        out += c;
        continue;
      }
      seen++;
      out += !everything && (seen <= 6 || seen > total - 4) ? c : "*";
    }
    at = b;
  }
  return out + text.slice(at);
}

function numberHasPan(n: number): boolean {
  return Number.isInteger(n) && Math.abs(n) >= 1e12 && containsPanText(String(n));
}

/** A path as a chain to its parent: pushing a child copies nothing, whatever the depth. */
type PathNode = { seg: string; parent: PathNode | null } | null;
const pathOf = (node: PathNode): string[] => {
  const segs: string[] = [];
  for (let n = node; n; n = n.parent) segs.push(n.seg);
  return segs.reverse();
};

/**
 * Every string, number and key of a JSON value with its path, in document order (a key before
 * what it holds), without recursion: any depth of nesting is walked without growing the call stack.
 */
function* leaves(body: unknown): Generator<{ value: unknown; at: PathNode; key: boolean }> {
  const stack: Array<{ value: unknown; at: PathNode; key: boolean }> = [
    { value: body, at: null, key: false },
  ];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const { value, at } = item;
    if (item.key) yield item;
    else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--)
        stack.push({ value: value[i], at: { seg: String(i), parent: at }, key: false });
    } else if (value && typeof value === "object") {
      const entries = Object.entries(value);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, v] = entries[i]!;
        const here = { seg: k, parent: at };
        stack.push({ value: v, at: here, key: false });
        stack.push({ value: k, at: here, key: true });
      }
    } else yield item;
  }
}

/** Whether any key, string or number in `body` holds a PAN: iterative, one stack, no paths (per request). */
function anyPan(body: unknown): boolean {
  if (typeof body !== "object" || body === null) return holdsPan(body);
  const stack: unknown[] = [body];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      for (const v of value)
        if (typeof v === "object" && v !== null) stack.push(v);
        else if (holdsPan(v)) return true;
    } else if (value && typeof value === "object") {
      for (const k in value) {
        if (!Object.hasOwn(value, k)) continue;
        if (holdsPan(k)) return true;
        const v = (value as Record<string, unknown>)[k];
        if (typeof v === "object" && v !== null) stack.push(v);
        else if (holdsPan(v)) return true;
      }
    }
  }
  return false;
}

function holdsPan(value: unknown): boolean {
  if (typeof value === "string") return value.length >= MIN_DIGITS && containsPanText(value);
  return typeof value === "number" && numberHasPan(value);
}

/**
 * Paths ("metadata.note") of every key, string or number in `body` that holds a PAN; a PAN in a
 * key is reported at that key's path, masked, so the path itself never carries the number (and
 * what is under that key is not reported again). Iterative: any depth of nesting is scanned
 * without growing the call stack.
 */
export function findPans(body: unknown): string[] {
  if (!anyPan(body)) return []; // the common case: no path is built
  const found: string[] = [];
  const panKeys = new Set<PathNode>();
  for (const { value, at, key } of leaves(body)) {
    if (!holdsPan(value)) continue;
    let under = false;
    for (let n = at; n && !under; n = n.parent) under = panKeys.has(n) && !(key && n === at);
    if (under) continue;
    found.push(pathOf(at).map(maskPans).join("."));
    if (key) panKeys.add(at);
  }
  return found;
}

/*
 * Law 7: no raw card number (PAN) is accepted anywhere. A PAN is 13–19 digits, optionally grouped
 * by spaces or dashes, that passes the Luhn check.
 */

const CANDIDATE = /^[\d -]{13,}$/;

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

export function looksLikePan(value: string): boolean {
  if (!CANDIDATE.test(value)) return false;
  const digits = value.replace(/[ -]/g, "");
  return digits.length >= 13 && digits.length <= 19 && /^\d+$/.test(digits) && luhnValid(digits);
}

/** Whether any string or number in `body` looks like a PAN (no allocation: this runs per request). */
function containsPan(body: unknown): boolean {
  if (typeof body === "string") return body.length >= 13 && looksLikePan(body);
  if (typeof body === "number") return body >= 1e12 && Number.isInteger(body) && looksLikePan(String(body));
  if (body && typeof body === "object") {
    for (const v of Array.isArray(body) ? body : Object.values(body)) if (containsPan(v)) return true;
  }
  return false;
}

/** Paths (JSON-pointer-like, "metadata.note") of every string or number in `body` that looks like a PAN. */
export function findPans(body: unknown): string[] {
  return containsPan(body) ? pathsOfPans(body, []) : [];
}

function pathsOfPans(body: unknown, path: string[]): string[] {
  if (typeof body === "string") return looksLikePan(body) ? [path.join(".")] : [];
  if (typeof body === "number")
    return Number.isInteger(body) && looksLikePan(String(body)) ? [path.join(".")] : [];
  if (Array.isArray(body)) return body.flatMap((v, i) => pathsOfPans(v, [...path, String(i)]));
  if (body && typeof body === "object") {
    return Object.entries(body).flatMap(([k, v]) => pathsOfPans(v, [...path, k]));
  }
  return [];
}

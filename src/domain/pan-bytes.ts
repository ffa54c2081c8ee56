import { maskPans } from "./pan.ts";

/*
 * Card numbers masked in bytes read from Kafka (a dead letter's key and value, law 7). A JSON value
 * is masked as JSON: its strings and keys one by one, so a number written with escaped separators
 * ("4111\\n1111…", as JSON spells a newline) is found as the decoder finds it; then the text, for
 * numbers. Other UTF-8 text is masked as text; anything else is read as latin1, where digits and
 * ASCII separators are single bytes and binary passes through unchanged.
 */

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Every string and key of a JSON value masked, in place; iterative (any depth). Whether any was. */
function maskJson(root: unknown): boolean {
  let changed = false;
  const mask = (text: string) => {
    const masked = maskPans(text);
    changed ||= masked !== text;
    return masked;
  };
  // Arrays too: their keys are their indexes, which are never masked.
  const stack: Array<Record<string, unknown>> = [{ root }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    for (const key of Object.keys(node)) {
      const v = node[key];
      const k = Array.isArray(node) ? key : mask(key);
      if (k !== key) delete node[key];
      node[k] = typeof v === "string" ? mask(v) : v;
      if (v && typeof v === "object") stack.push(v as Record<string, unknown>);
    }
  }
  return changed;
}

/** UTF-8 text masked: as JSON when it is JSON, then as text. */
function maskText(text: string): string {
  let out = text;
  try {
    const parsed: unknown = JSON.parse(text);
    if (maskJson(parsed) || maskPans(text) !== text) out = JSON.stringify(parsed);
  } catch {
    // not JSON (or nested past what the parser takes): masked as text below
  }
  return maskPans(out);
}

/** Bytes with every PAN masked; the same buffer when there is nothing to mask. */
export function maskPanBytes(value: Buffer): { value: Buffer; masked: boolean } {
  const header = value.length > 5 && value[0] === 0 ? 5 : 0; // a Confluent frame's header
  let text: string;
  try {
    text = utf8.decode(value.subarray(header));
  } catch {
    const latin1 = value.toString("latin1");
    const masked = maskPans(latin1);
    return masked === latin1
      ? { value, masked: false }
      : { value: Buffer.from(masked, "latin1"), masked: true };
  }
  const masked = maskText(text);
  if (masked === text) return { value, masked: false };
  return { value: Buffer.concat([value.subarray(0, header), Buffer.from(masked, "utf8")]), masked: true };
}

import { createHash } from "node:crypto";

/*
 * Rule sets and models are content-addressed: a version is a prefix and 12 hex digits of the
 * SHA-256 of the document's canonical JSON, so the same document always has the same version and
 * storing it twice is a no-op (src/artefacts/artefact-store.ts).
 */

/** JSON with object keys sorted: the same document always has the same text, and so the same id. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** `<prefix>-` and 12 hex digits of the SHA-256 of the document's canonical JSON. */
export function contentAddress(prefix: "rs" | "mdl", document: unknown): string {
  return `${prefix}-${createHash("sha256").update(canonicalJson(document)).digest("hex").slice(0, 12)}`;
}

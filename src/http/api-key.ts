import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Finds the role of a presented API key in constant time (law 7): both sides are hashed to equal
 * length and every configured key is compared, so neither the length nor the position of a match
 * leaks through timing. Undefined for an unknown or missing key.
 */
export function createApiKeyCheck<R extends string>(
  keys: ReadonlyArray<{ role: R; key: string }>,
): (presented: string | undefined) => R | undefined {
  const digests = keys.map((k) => ({ role: k.role, digest: createHash("sha256").update(k.key).digest() }));
  return (presented) => {
    const candidate = createHash("sha256")
      .update(presented ?? "")
      .digest();
    let found: R | undefined;
    for (const d of digests) if (timingSafeEqual(d.digest, candidate)) found ??= d.role;
    return presented === undefined ? undefined : found;
  };
}

import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Finds who a presented API key is (its role and name) in constant time (law 7): both sides are hashed to equal
 * length and every configured key is compared, so neither the length nor the position of a match
 * leaks through timing. Undefined for an unknown or missing key.
 */
export function createApiKeyCheck<K extends { key: string }>(
  keys: readonly K[],
): (presented: string | undefined) => Omit<K, "key"> | undefined {
  const digests = keys.map(({ key, ...who }) => ({ who, digest: createHash("sha256").update(key).digest() }));
  return (presented) => {
    const candidate = createHash("sha256")
      .update(presented ?? "")
      .digest();
    let found: Omit<K, "key"> | undefined;
    for (const d of digests) if (timingSafeEqual(d.digest, candidate)) found ??= d.who;
    return presented === undefined ? undefined : found;
  };
}

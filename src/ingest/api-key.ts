import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Checks an API key against the configured ones in constant time (law 7): both sides are hashed
 * to equal length and every configured key is compared, so neither the length nor the position
 * of a match leaks through timing.
 */
export function createApiKeyCheck(keys: readonly string[]): (presented: string | undefined) => boolean {
  const digests = keys.map((k) => createHash("sha256").update(k).digest());
  return (presented) => {
    const candidate = createHash("sha256")
      .update(presented ?? "")
      .digest();
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, candidate) || ok;
    return ok && presented !== undefined;
  };
}

import type { Profile } from "../domain/profile.ts";

/**
 * Where the consumer gets profiles. `null` means the user is unknown. Two implementations: the
 * Redis cache-aside (redis-profile-cache.ts) and PostgreSQL directly (the profile store).
 */
export interface ProfileSource {
  getMany(userIds: readonly string[]): Promise<Map<string, Profile | null>>;
}

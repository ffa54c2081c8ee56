import { sql } from "slonik";
import { type Actor, withAudit } from "../audit/audit-store.ts";
import type { Profile, ProfileInput } from "../domain/profile.ts";
import { ProfileSchema } from "../domain/profile.ts";
import { withDbErrors } from "./db-errors.ts";
import type { DatabasePool } from "./pool.ts";
import { ISO_UTC } from "./sql-time.ts";

export const PROFILE_COLUMNS = sql.fragment`user_id, status, risk_tier, home_country, currency,
  per_transaction_limit::text, daily_limit::text, version,
  to_char(updated_at AT TIME ZONE 'UTC', ${ISO_UTC}) AS updated_at`;

export type ProfileStore = ReturnType<typeof createProfileStore>;

/** User profiles in PostgreSQL, the source of truth behind the Redis cache. Throws SentinelError. */
export function createProfileStore({ pool }: { pool: DatabasePool }) {
  return {
    /** The profiles that exist among `userIds`, in one `= ANY(...)` query. */
    async getMany(userIds: readonly string[]): Promise<Profile[]> {
      if (userIds.length === 0) return [];
      const rows = await withDbErrors("get profiles", () =>
        pool.any(sql.type(ProfileSchema)`
          SELECT ${PROFILE_COLUMNS} FROM user_profiles WHERE user_id = ANY(${sql.array(userIds, "text")})`),
      );
      return [...rows];
    },

    async get(userId: string): Promise<Profile | null> {
      return (await this.getMany([userId]))[0] ?? null;
    },

    /**
     * Inserts or replaces a profile (its version grows by one), with its audit row (the profile
     * before and after) in the same transaction.
     */
    async upsert(userId: string, p: ProfileInput, actor: Actor): Promise<Profile> {
      return withAudit(pool, "upsert profile", actor, async (t, audit) => {
        const before = await t.maybeOne(sql.type(ProfileSchema)`
            SELECT ${PROFILE_COLUMNS} FROM user_profiles WHERE user_id = ${userId} FOR UPDATE`);
        const after = await t.one(sql.type(ProfileSchema)`
            INSERT INTO user_profiles AS u (user_id, status, risk_tier, home_country, currency,
              per_transaction_limit, daily_limit)
            VALUES (${userId}, ${p.status}, ${p.risk_tier}, ${p.home_country}, ${p.currency},
              ${p.per_transaction_limit}::numeric, ${p.daily_limit}::numeric)
            ON CONFLICT (user_id) DO UPDATE SET status = EXCLUDED.status, risk_tier = EXCLUDED.risk_tier,
              home_country = EXCLUDED.home_country, currency = EXCLUDED.currency,
              per_transaction_limit = EXCLUDED.per_transaction_limit, daily_limit = EXCLUDED.daily_limit,
              version = u.version + 1, updated_at = now()
            RETURNING ${PROFILE_COLUMNS}`);
        audit.push({ action: "profile.upsert", target: userId, before, after });
        return after;
      });
    },

    /** Bulk upsert for `sentinel seed`: one statement per call. */
    async upsertMany(rows: ReadonlyArray<{ userId: string; profile: ProfileInput }>): Promise<number> {
      if (rows.length === 0) return 0;
      const tuples = rows.map(({ userId, profile: p }) => [
        userId,
        p.status,
        p.risk_tier,
        p.home_country,
        p.currency,
        p.per_transaction_limit,
        p.daily_limit,
      ]);
      await withDbErrors("seed profiles", () =>
        pool.query(sql.unsafe`
          INSERT INTO user_profiles AS u (user_id, status, risk_tier, home_country, currency,
            per_transaction_limit, daily_limit)
          SELECT * FROM ${sql.unnest(tuples, ["text", "text", "text", "text", "text", "numeric", "numeric"])}
          ON CONFLICT (user_id) DO UPDATE SET status = EXCLUDED.status, risk_tier = EXCLUDED.risk_tier,
            home_country = EXCLUDED.home_country, currency = EXCLUDED.currency,
            per_transaction_limit = EXCLUDED.per_transaction_limit, daily_limit = EXCLUDED.daily_limit,
            version = u.version + 1, updated_at = now()`),
      );
      return rows.length;
    },
  };
}

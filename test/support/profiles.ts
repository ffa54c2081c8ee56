import type pg from "pg";
import type { Profile } from "../../src/domain/profile.ts";
import type { OracleProfile } from "./oracle.ts";

/**
 * A user profile for rule tests and benches: an active low-risk US customer with a 500.00 USD
 * limit per transaction and 1,000.00 a day; `over` changes what a test is about.
 */
export function testProfile(over: Partial<Profile> = {}): Profile {
  return {
    user_id: "u1",
    status: "active",
    risk_tier: "low",
    home_country: "US",
    currency: "USD",
    per_transaction_limit: "500.00",
    daily_limit: "1000.00",
    version: 1,
    updated_at: "2026-01-01T00:00:00Z",
    ...over,
  };
}

/**
 * The body of `PUT /users/:id/profile` for an active user (low or high risk) or a blocked one, with
 * limits no test transaction reaches: what decides is the tier or the status.
 */
export function profileBody(kind: "low" | "high" | "blocked" = "low") {
  return {
    status: kind === "blocked" ? "blocked" : "active",
    risk_tier: kind === "high" ? "high" : "low",
    home_country: "US",
    currency: "USD",
    per_transaction_limit: "5000.00",
    daily_limit: "100000.00",
  };
}

/** Every stored profile, as the oracle reads them (the checker's own read of PostgreSQL). */
export async function storedProfiles(db: pg.Client): Promise<Array<OracleProfile & { user_id: string }>> {
  const { rows } = await db.query<OracleProfile & { user_id: string }>(
    "SELECT user_id, status, risk_tier, home_country, currency, per_transaction_limit::text, daily_limit::text FROM user_profiles",
  );
  return rows;
}

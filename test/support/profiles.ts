import type { Profile } from "../../src/domain/profile.ts";

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

import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import { SentinelError } from "../errors.ts";
import type { Metrics } from "../metrics.ts";

/*
 * Per-key rate limits on every keyed route (issue 35), counted in Redis so every ingress process
 * shares one count per key (@fastify/rate-limit's Redis store). Ingest keys get their own, much
 * higher limit: a gateway posts thousands of transactions a second; an analyst or an admin key
 * does not. Redis away: requests are not refused for it (the limit is a guard against abuse, not
 * a dependency). With authentication off there is no key to count by, and no limit.
 */

export type RateLimits = { ingestPerMinute: number; perMinute: number };

const UNLIMITED = Number.MAX_SAFE_INTEGER;

/** The key a request is counted under: its API key's role and name. */
const keyOf = (request: FastifyRequest) =>
  request.identity ? `${request.identity.role}:${request.identity.name}` : `ip:${request.ip}`;

/** Registers the limits on `scope` (after its key check, which names the caller). */
export async function limitPerKey(
  scope: FastifyInstance,
  {
    limits,
    redis,
    keyPrefix,
    metrics,
  }: { limits: RateLimits; redis?: Redis; keyPrefix: string; metrics: Metrics },
): Promise<void> {
  if (limits.ingestPerMinute === 0 && limits.perMinute === 0) return;
  await scope.register(rateLimit, {
    global: true,
    hook: "preHandler", // after the key check, which runs onRequest
    timeWindow: 60_000,
    max: (request) => {
      const m = request.identity?.role === "ingest" ? limits.ingestPerMinute : limits.perMinute;
      return m === 0 ? UNLIMITED : m;
    },
    keyGenerator: keyOf,
    ...(redis ? { redis, nameSpace: `${keyPrefix}rate-limit:` } : {}),
    skipOnError: true,
    errorResponseBuilder: (request, context) => {
      metrics.http.rejected.inc({ reason: "rate_limited" });
      return new SentinelError(
        "rate_limited",
        `${keyOf(request)} may make ${context.max} requests a minute: retry in ${context.after}`,
      );
    },
  });
}

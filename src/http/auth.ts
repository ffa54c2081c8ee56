import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Role } from "../config-values.ts";
import { SentinelError } from "../errors.ts";
import type { Metrics } from "../metrics.ts";
import { createApiKeyCheck } from "./api-key.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The roles (besides admin) whose keys may call the route; none: admin only. */
    roles?: readonly Role[];
  }
  interface FastifyRequest {
    /** The API key's role and name, once checked; null without keys (read it with whoIs). */
    identity: Identity | null;
  }
}

export type Identity = { role: Role; name: string };

/** Who calls when authentication is off (AUTH_DISABLED=true, loopback only). */
export const LOCAL_ADMIN: Identity = { role: "admin", name: "local" };

/** Every request has room for an identity (declared once: no shape change per request). */
export function decorateIdentity(app: FastifyInstance): void {
  app.decorateRequest("identity", null);
}

/** Who is calling: the key's role and name, or the local admin when authentication is off. */
export const whoIs = (request: FastifyRequest): Identity => request.identity ?? LOCAL_ADMIN;

/**
 * Whether a key of `role` may call a route open to `allowed`: admin keys everywhere, supervisor keys
 * wherever analyst keys are (a supervisor is an analyst who may also reassign, escalate and
 * approve snoozes: issue 37).
 */
export function admits(allowed: readonly Role[], role: Role): boolean {
  return role === "admin" || allowed.includes(role) || (role === "supervisor" && allowed.includes("analyst"));
}

/**
 * Asks every route of `scope` for an API key (`x-api-key`): 401 without a valid one, 403 when the
 * key's role is not among the route's `config.roles` (admin keys are admitted everywhere).
 */
export function requireApiKeys(
  scope: FastifyInstance,
  keys: ReadonlyArray<{ role: Role; name: string; key: string }>,
  metrics: Metrics,
): void {
  const check = createApiKeyCheck(keys);
  scope.addHook("onRequest", async (request) => {
    const presented = request.headers["x-api-key"];
    const who = check(typeof presented === "string" ? presented : undefined);
    if (!who) {
      metrics.http.rejected.inc({ reason: "unauthorized" });
      throw new SentinelError("unauthorized", "missing or invalid x-api-key");
    }
    const { role } = who;
    request.identity = who;
    const allowed = request.routeOptions.config.roles ?? [];
    if (!admits(allowed, role)) {
      metrics.http.rejected.inc({ reason: "forbidden" });
      const needed = allowed[0] ?? "admin";
      throw new SentinelError(
        "forbidden",
        `this route needs a key with the ${needed} role${needed === "admin" ? "" : " (or admin)"}; yours is ${role}`,
        { details: { required_role: needed } },
      );
    }
  });
}

import type { FastifyInstance } from "fastify";
import type { Role } from "../config-values.ts";
import { SentinelError } from "../errors.ts";
import type { Metrics } from "../metrics.ts";
import { createApiKeyCheck } from "./api-key.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The roles (besides admin) whose keys may call the route; none: admin only. */
    roles?: readonly Role[];
  }
}

/**
 * Asks every route of `scope` for an API key (`x-api-key`): 401 without a valid one, 403 when the
 * key's role is not among the route's `config.roles` (admin keys are admitted everywhere).
 */
export function requireApiKeys(
  scope: FastifyInstance,
  keys: ReadonlyArray<{ role: Role; key: string }>,
  metrics: Metrics,
): void {
  const check = createApiKeyCheck(keys);
  scope.addHook("onRequest", async (request) => {
    const presented = request.headers["x-api-key"];
    const role = check(typeof presented === "string" ? presented : undefined);
    if (!role) {
      metrics.http.rejected.inc({ reason: "unauthorized" });
      throw new SentinelError("unauthorized", "missing or invalid x-api-key");
    }
    const allowed = request.routeOptions.config.roles ?? [];
    if (role !== "admin" && !allowed.includes(role)) {
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

import type { FastifyInstance } from "fastify";
import { type Profile, ProfileInputSchema } from "../../domain/profile.ts";
import { toIssues, USER_ID_PATTERN as USER_ID, USER_ID_RULE } from "../../domain/transaction.ts";
import type { ProfileStore } from "../../store/profile-store.ts";
import { errorSchema, profileInputJsonSchema, validationErrorSchema } from "../openapi.ts";

export type ProfileRoutesDeps = {
  profiles: Pick<ProfileStore, "get" | "upsert">;
  /** Replaces the cached copy; throws SentinelError(cache_unavailable) when it cannot. */
  refreshCachedProfile: (profile: Profile) => Promise<void>;
};

const BAD_USER_ID = { error: "validation_failed", issues: [{ path: "id", message: USER_ID_RULE }] };

export function registerProfileRoutes(app: FastifyInstance, deps: ProfileRoutesDeps): void {
  const params = { type: "object", properties: { id: { type: "string", pattern: USER_ID.source } } };

  app.get<{ Params: { id: string } }>(
    "/users/:id/profile",
    {
      config: { roles: ["analyst"] },
      schema: {
        summary: "Read a user's profile",
        security: [{ apiKey: [] }],
        params,
        response: { 404: errorSchema },
      },
    },
    async (request, reply) => {
      if (!USER_ID.test(request.params.id)) return reply.code(400).send(BAD_USER_ID);
      const profile = await deps.profiles.get(request.params.id);
      return profile ?? reply.code(404).send({ error: "not_found", message: "unknown user" });
    },
  );

  app.put<{ Params: { id: string } }>(
    "/users/:id/profile",
    {
      config: { roles: [] },
      schema: {
        summary: "Create or replace a user's profile",
        description: "The cached copy is replaced before the answer, so the next scored transaction sees it.",
        security: [{ apiKey: [] }],
        params,
        body: profileInputJsonSchema,
        response: { 400: validationErrorSchema },
      },
    },
    async (request, reply) => {
      if (!USER_ID.test(request.params.id)) return reply.code(400).send(BAD_USER_ID);
      const parsed = ProfileInputSchema.safeParse(request.body);
      if (!parsed.success) {
        return reply.code(400).send({ error: "validation_failed", issues: toIssues(parsed.error) });
      }
      const profile = await deps.profiles.upsert(request.params.id, parsed.data);
      await deps.refreshCachedProfile(profile);
      return profile;
    },
  );
}

import type { FastifyPluginAsync } from "fastify";
import { textWithoutPan } from "../domain/free-text.ts";
import { type Profile, ProfileInputSchema } from "../domain/profile.ts";
import { USER_ID_PATTERN as USER_ID, USER_ID_RULE } from "../domain/transaction.ts";
import { SentinelError } from "../errors.ts";
import { whoIs } from "../http/auth.ts";
import { errorSchema, profileInputJsonSchema, validationErrorSchema } from "../http/openapi.ts";
import { parseParam, parseRequest } from "../http/validation.ts";
import type { ProfileStore } from "../store/profile-store.ts";

export type ProfilesPluginDeps = {
  profiles: Pick<ProfileStore, "get" | "upsert">;
  /** Replaces the cached copy; throws SentinelError(cache_unavailable) when it cannot. */
  refreshCachedProfile: (profile: Profile) => Promise<void>;
};

// A user id is also refused when it looks like a card number (issue 20: the path was not scanned).
// The pattern bounds the length (its message is the one a client sees); the scan refuses a card number.
export const UserIdParam = textWithoutPan(256).regex(USER_ID, USER_ID_RULE);
const params = { type: "object", properties: { id: { type: "string", pattern: USER_ID.source } } };

/** GET|PUT /users/:id/profile: a write replaces the cached copy before it answers. */
export const profilesPlugin: FastifyPluginAsync<ProfilesPluginDeps> = async (app, deps) => {
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
    async (request) => {
      const profile = await deps.profiles.get(parseParam(UserIdParam, request.params.id, "id"));
      if (!profile) throw new SentinelError("not_found", "unknown user");
      return profile;
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
    async (request) => {
      const id = parseParam(UserIdParam, request.params.id, "id");
      const body = parseRequest(ProfileInputSchema, request.body);
      const profile = await deps.profiles.upsert(id, body, whoIs(request));
      await deps.refreshCachedProfile(profile);
      return profile;
    },
  );
};

import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import { CASE_STATUSES, LABELS } from "../domain/case.ts";
import type { Profile } from "../domain/profile.ts";
import { SentinelError } from "../errors.ts";
import { errorSchema, jsonSchemaOf, validationErrorSchema } from "../http/openapi.ts";
import { parseParam, parseRequest } from "../http/validation.ts";
import type { ProfileStore } from "../store/profile-store.ts";
import type { StoredTransaction } from "../store/transaction-store.ts";
import { type CaseFeed, streamCases } from "./case-feed.ts";
import type { Case, CaseRefusal, CaseStore } from "./case-store.ts";
import type { LabelPublisher } from "./label-publisher.ts";

/*
 * The analyst's cases (issue 14): one for every `review`, claimed, released and resolved with a
 * label (and, if asked, the user blocked at once); a live feed of new reviews for the console.
 */

export type CasesPluginDeps = {
  cases: Pick<CaseStore, "list" | "getCase" | "userHistory" | "claim" | "release" | "resolve">;
  transactions: { getTransaction(id: string): Promise<StoredTransaction | null> };
  profiles: Pick<ProfileStore, "setStatus">;
  /** Puts a just-written profile in the cache; throws SentinelError(cache_unavailable). */
  refreshCachedProfile: (profile: Profile) => Promise<void>;
  labels: LabelPublisher;
  /** The live feed of new reviews (GET /cases/stream); absent, the stream route is not served. */
  feed?: CaseFeed;
  now?: () => number;
};

export const CaseId = z.uuid("must be a UUID").transform((id) => id.toLowerCase());
const ListQuery = z.strictObject({
  status: z.enum(CASE_STATUSES, `must be one of ${CASE_STATUSES.join(", ")}`).optional(),
  user_id: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.coerce.number().int().positive("must be the next_cursor of a previous page").optional(),
});
const Analyst = z.string().min(1).max(128);
const ClaimBody = z.strictObject({ analyst: Analyst });
const ReleaseBody = z.strictObject({ analyst: Analyst.optional() }).default({});
const ResolveBody = z.strictObject({
  label: z.enum(LABELS, `must be one of ${LABELS.join(", ")}`),
  note: z.string().max(2_000).optional(),
  block_user: z.boolean().default(false),
  analyst: Analyst.optional(),
});

export const analystOnly = { roles: ["analyst"] as const };
export const idParams = { type: "object", properties: { id: { type: "string", format: "uuid" } } };
const secured = { security: [{ apiKey: [] }] };

/** A case, or the refusal as a SentinelError (404 unknown case, 409 resolved or claimed by another). */
function caseOrThrow(r: Case | CaseRefusal): Case {
  if (typeof r === "object") return r;
  if (r === "not_found") throw new SentinelError("not_found", "unknown case");
  if (r === "resolved") throw new SentinelError("case_resolved", "the case is resolved already");
  throw new SentinelError("case_claimed", "the case is claimed by another analyst");
}

/**
 * Resolves a case with a label, blocking its user first when asked, then publishes the label.
 * @throws SentinelError: not_found, case_resolved, case_claimed, no_profile, or an outage.
 */
async function resolveCase(
  deps: CasesPluginDeps,
  id: string,
  body: z.output<typeof ResolveBody>,
  nowMs: number,
) {
  const current = caseOrThrow((await deps.cases.getCase(id)) ?? "not_found");
  if (current.status === "resolved") caseOrThrow("resolved");
  let blocked: Profile | null = null;
  if (body.block_user) {
    // Blocked before the case is resolved: the user's next transaction is declined.
    blocked = await deps.profiles.setStatus(current.user_id, "blocked");
    if (!blocked) {
      throw new SentinelError(
        "no_profile",
        `user ${current.user_id} has no profile to block; create one with PUT /users/:id/profile`,
      );
    }
    await deps.refreshCachedProfile(blocked);
  }
  const r = caseOrThrow(
    await deps.cases.resolve(current.case_id, {
      label: body.label,
      note: body.note,
      analyst: body.analyst,
    }),
  );
  await deps.labels.publish({
    transaction_id: r.transaction_id,
    user_id: r.user_id,
    label: body.label,
    source: "analyst",
    ...(body.note ? { note: body.note } : {}),
    labelled_at: new Date(nowMs).toISOString(),
  });
  return { ...r, user_blocked: blocked !== null };
}

export const casesPlugin: FastifyPluginAsync<CasesPluginDeps> = async (app, deps) => {
  const now = deps.now ?? Date.now;

  app.get(
    "/cases",
    {
      config: analystOnly,
      schema: {
        summary: "Cases, newest first (cursor-paged)",
        ...secured,
        querystring: jsonSchemaOf(ListQuery),
        response: { 400: validationErrorSchema },
      },
    },
    async (request) => {
      const q = parseRequest(ListQuery, request.query);
      const { cases, nextCursor } = await deps.cases.list({
        status: q.status,
        userId: q.user_id,
        limit: q.limit,
        cursor: q.cursor,
      });
      return { cases, next_cursor: nextCursor === null ? null : String(nextCursor) };
    },
  );

  const feed = deps.feed;
  if (feed) {
    app.get(
      "/cases/stream",
      {
        config: analystOnly,
        schema: { summary: "New reviews as Server-Sent Events (event: case)", ...secured },
      },
      (_request, reply) => {
        reply.hijack();
        streamCases(feed, reply.raw);
      },
    );
    // Open streams must not hold the shutdown.
    app.addHook("preClose", (done) => {
      feed.close();
      done();
    });
  }

  app.get<{ Params: { id: string } }>(
    "/cases/:id",
    {
      config: analystOnly,
      schema: {
        summary: "A case with its transaction, decision and the user's recent history",
        ...secured,
        params: idParams,
        response: { 404: errorSchema },
      },
    },
    async (request) => {
      const c = caseOrThrow(
        (await deps.cases.getCase(parseParam(CaseId, request.params.id, "id"))) ?? "not_found",
      );
      const [transaction, history] = await Promise.all([
        deps.transactions.getTransaction(c.transaction_id),
        deps.cases.userHistory(c.user_id),
      ]);
      return { case: c, transaction, history };
    },
  );

  app.post<{ Params: { id: string } }>(
    "/cases/:id/claim",
    { config: analystOnly, schema: { summary: "Claim a case", ...secured, params: idParams } },
    async (request) => {
      const id = parseParam(CaseId, request.params.id, "id");
      const body = parseRequest(ClaimBody, request.body ?? {});
      return caseOrThrow(await deps.cases.claim(id, body.analyst));
    },
  );

  app.post<{ Params: { id: string } }>(
    "/cases/:id/release",
    {
      config: analystOnly,
      schema: { summary: "Give a claimed case back to the queue", ...secured, params: idParams },
    },
    async (request) => {
      const id = parseParam(CaseId, request.params.id, "id");
      const body = parseRequest(ReleaseBody, request.body ?? {});
      return caseOrThrow(await deps.cases.release(id, body.analyst));
    },
  );

  app.post<{ Params: { id: string } }>(
    "/cases/:id/resolve",
    {
      config: analystOnly,
      schema: {
        summary: "Resolve a case with a label; optionally block the user at once",
        ...secured,
        params: idParams,
      },
    },
    async (request) =>
      resolveCase(
        deps,
        parseParam(CaseId, request.params.id, "id"),
        parseRequest(ResolveBody, request.body ?? {}),
        now(),
      ),
  );
};

import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from "fastify";
import { z } from "zod";
import type { Actor } from "../audit/audit-store.ts";
import { CASE_QUEUES, CASE_STATUSES, LABELS } from "../domain/case.ts";
import { FreeText, textWithoutPan } from "../domain/free-text.ts";
import type { Profile } from "../domain/profile.ts";
import { SentinelError } from "../errors.ts";
import { whoIs } from "../http/auth.ts";
import { errorSchema, jsonSchemaOf, validationErrorSchema } from "../http/openapi.ts";
import { parseParam, parseRequest } from "../http/validation.ts";
import { explanationOf } from "../model/model.ts";
import type { StoredTransaction } from "../store/transaction-store.ts";
import type { CaseActions, CaseRefusal } from "./case-actions.ts";
import { type CaseFeed, streamCases } from "./case-feed.ts";
import type { Case, CaseStore } from "./case-store.ts";
import type { CaseSupervision } from "./case-supervision.ts";
import type { LabelOutbox } from "./label-outbox.ts";
import { queueRoutes } from "./queue-routes.ts";

/*
 * The analyst's cases (issue 14): one for every `review`, claimed, released and resolved with a
 * label (and, if asked, the user blocked at once); a live feed of new reviews for the console.
 */

export type CasesPluginDeps = {
  cases: Pick<CaseStore, "list" | "getCase" | "userHistory" | "linkedCases">;
  actions: Pick<CaseActions, "claim" | "release" | "resolve">;
  /** Reassignment, escalation and bulk resolution (issue 37). */
  supervision: CaseSupervision;
  transactions: { getTransaction(id: string): Promise<StoredTransaction | null> };
  /** Puts a just-written profile in the cache; throws SentinelError(cache_unavailable). */
  refreshCachedProfile: (profile: Profile) => Promise<void>;
  labels: Pick<LabelOutbox, "publishPending">;
  /** The live feed of new reviews (GET /cases/stream); absent, the stream route is not served. */
  feed?: CaseFeed;
};

export const CaseId = z.uuid("must be a UUID").transform((id) => id.toLowerCase());
const ListQuery = z
  .strictObject({
    status: z.enum(CASE_STATUSES, `must be one of ${CASE_STATUSES.join(", ")}`).optional(),
    user_id: z.string().min(1).max(64).optional(),
    queue: z.enum(CASE_QUEUES, `must be one of ${CASE_QUEUES.join(", ")}`).optional(),
    /** An analyst's name, or `none` for the unassigned cases. */
    assignee: z.string().min(1).max(64).optional(),
    /** Default: by priority within a queue, else newest first. */
    sort: z.enum(["newest", "priority"]).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.coerce.number().int().positive("must be the next_cursor of a previous page").optional(),
  })
  .refine((q) => q.cursor === undefined || (q.sort ?? (q.queue ? "priority" : "newest")) === "newest", {
    message: "pages by priority have no cursor: raise limit (at most 500), or sort=newest",
    path: ["cursor"],
  });
/** An analyst's name: shown to other analysts, so plain words only (issue 20). */
export const AnalystName = textWithoutPan(256).regex(
  /^[\p{L}\p{N}][\p{L}\p{N} ._@'-]{0,63}$/u,
  "letters, digits, spaces and . _ @ ' - only, at most 64",
);
// The analyst is the API key's name; a body may still name it (older clients), and must name it.
const Analyst = AnalystName.optional();
/** The body of a claim or a release: nothing, or the key's own name. */
const ActorBody = z.strictObject({ analyst: Analyst }).default({});
const ResolveBody = z.strictObject({
  label: z.enum(LABELS, `must be one of ${LABELS.join(", ")}`),
  note: FreeText.optional(),
  block_user: z.boolean().default(false),
  analyst: Analyst,
});

export const analystOnly = { roles: ["analyst"] as const };
export const idParams = { type: "object", properties: { id: { type: "string", format: "uuid" } } };
const secured = { security: [{ apiKey: [] }] };

/** A refusal as a SentinelError: 404 unknown case, 409 resolved, claimed by another, not claimed. */
function refuse(r: CaseRefusal): never {
  if (r === "not_found") throw new SentinelError("not_found", "unknown case");
  if (r === "resolved") throw new SentinelError("case_resolved", "the case is resolved already");
  if (r === "not_claimed") throw new SentinelError("case_not_claimed", "claim the case first");
  throw new SentinelError("case_claimed", "the case is claimed by another analyst");
}

/** The case as it is now; 404 when unknown. */
async function currentCase(deps: CasesPluginDeps, id: string): Promise<Case> {
  return (await deps.cases.getCase(id)) ?? refuse("not_found");
}

/**
 * The acting analyst: the API key's name. A body that names another analyst is refused: nobody
 * acts under another's name (issue 20).
 */
function actorOf(request: FastifyRequest, named: string | undefined): Actor {
  const who = whoIs(request);
  if (named !== undefined && named !== who.name) {
    throw new SentinelError("forbidden", `this key acts as ${who.name}, not ${named}`);
  }
  return who;
}

/**
 * Resolves a case the analyst claimed, with a label and, when asked, the user blocked — one
 * transaction (case-actions.ts); then the cached profile is replaced and the label published.
 * @throws SentinelError: not_found, case_resolved, case_claimed, case_not_claimed, no_profile, or an outage.
 */
async function resolveCase(
  deps: CasesPluginDeps,
  id: string,
  body: z.output<typeof ResolveBody>,
  actor: Actor,
) {
  const r = await deps.actions.resolve(
    id,
    { label: body.label, note: body.note, blockUser: body.block_user },
    actor,
  );
  if (typeof r === "string") refuse(r);
  // Committed: the user's next transaction is declined even if Redis is away (the scorer falls
  // back to PostgreSQL), and the label is in the outbox even if the broker is.
  if (r.blocked) await deps.refreshCachedProfile(r.blocked);
  void deps.labels.publishPending();
  return { ...(await currentCase(deps, id)), user_blocked: r.blocked !== null };
}

/** GET /cases: newest first, or a queue by priority. */
function listRoute(app: FastifyInstance, deps: CasesPluginDeps): void {
  app.get(
    "/cases",
    {
      config: analystOnly,
      schema: {
        summary:
          "Cases: newest first (cursor-paged), or a queue (escalated, high, standard) by priority; by status, user, assignee (none: unassigned)",
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
        queue: q.queue,
        assignee: q.assignee === "none" ? null : q.assignee,
        sort: q.sort ?? (q.queue ? "priority" : "newest"),
        limit: q.limit,
        cursor: q.cursor,
      });
      return { cases, next_cursor: nextCursor === null ? null : String(nextCursor) };
    },
  );
}

export const casesPlugin: FastifyPluginAsync<CasesPluginDeps> = async (app, deps) => {
  listRoute(app, deps);
  const feed = deps.feed;
  if (feed) {
    app.get(
      "/cases/stream",
      {
        config: analystOnly,
        schema: { summary: "New reviews as Server-Sent Events (event: case)", ...secured },
      },
      (request, reply) => {
        if (feed.subscribers >= feed.maxSubscribers) {
          throw new SentinelError("unavailable", "too many live streams on this process: retry later");
        }
        const who = whoIs(request);
        const key = `${who.role}:${who.name}`;
        if (!feed.roomFor(key)) {
          throw new SentinelError(
            "rate_limited",
            "this key has as many live streams open as it may: close one",
          );
        }
        reply.hijack();
        if (!streamCases(feed, reply.raw, { key })) reply.raw.destroy(); // filled meanwhile
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
        summary:
          "A case with its transaction, decision, the model's explanation, the user's recent history (timeline) and linked cases (same device or merchant)",
        ...secured,
        params: idParams,
        response: { 404: errorSchema },
      },
    },
    async (request) => {
      const c = await currentCase(deps, parseParam(CaseId, request.params.id, "id"));
      const [transaction, history, linked] = await Promise.all([
        deps.transactions.getTransaction(c.transaction_id),
        deps.cases.userHistory(c.user_id),
        deps.cases.linkedCases(c),
      ]);
      return { case: c, transaction, explanation: explanationOf(c.reasons), history, linked };
    },
  );

  // Claim and release: the same shape, one action each.
  const moves = [
    ["claim", "Claim a case"],
    ["release", "Give a claimed case back to the queue (only by the analyst who claimed it)"],
  ] as const;
  for (const [action, summary] of moves) {
    app.post<{ Params: { id: string } }>(
      `/cases/:id/${action}`,
      { config: analystOnly, schema: { summary, ...secured, params: idParams } },
      async (request) => {
        const id = parseParam(CaseId, request.params.id, "id");
        const actor = actorOf(request, parseRequest(ActorBody, request.body ?? {}).analyst);
        const refused = await deps.actions[action](id, actor);
        return refused ? refuse(refused) : currentCase(deps, id);
      },
    );
  }

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
    async (request) => {
      const id = parseParam(CaseId, request.params.id, "id");
      const body = parseRequest(ResolveBody, request.body ?? {});
      return resolveCase(deps, id, body, actorOf(request, body.analyst));
    },
  );

  queueRoutes(app, {
    ...deps,
    currentCase: (id) => currentCase(deps, id),
    refuse,
    caseId: CaseId,
    analystName: AnalystName,
  });
};

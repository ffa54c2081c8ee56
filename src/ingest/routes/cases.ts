import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import type { Profile } from "../../domain/profile.ts";
import { toIssues } from "../../domain/transaction.ts";
import {
  CASE_STATUSES,
  type Case,
  type CaseRefusal,
  type CaseStore,
  LABEL_SOURCES,
  LABELS,
} from "../../store/case-store.ts";
import type { ProfileStore } from "../../store/profile-store.ts";
import type { StoredTransaction } from "../../store/transaction-store.ts";
import type { CaseFeed } from "../case-feed.ts";
import { errorSchema, validationErrorSchema } from "../openapi.ts";

/*
 * The analyst's side (issue 14): cases for every `review`, claimed, released and resolved with a
 * label (and, if asked, the user blocked at once); labels for any stored transaction (published on
 * `transactions.labels`); and what the labels say of each rule.
 */

export type CaseRoutesDeps = {
  cases: Pick<
    CaseStore,
    "list" | "getCase" | "userHistory" | "claim" | "release" | "resolve" | "label" | "rulePerformance"
  >;
  transactions: { getTransaction(id: string): Promise<StoredTransaction | null> };
  profiles: Pick<ProfileStore, "setStatus">;
  /** Puts a just-written profile in the cache; throws SentinelError(cache_unavailable). */
  refreshCachedProfile: (profile: Profile) => Promise<void>;
  /** Publishes a label on `transactions.labels` (key user_id, acks=all); throws SentinelError. */
  publishLabel: (message: LabelMessage) => Promise<void>;
  /** The live feed of new reviews (GET /cases/stream); absent, the stream route is not served. */
  feed?: CaseFeed;
  now?: () => number;
};

export type LabelMessage = {
  transaction_id: string;
  user_id: string;
  label: (typeof LABELS)[number];
  source: (typeof LABEL_SOURCES)[number];
  note?: string;
  labelled_at: string;
};

const Uuid = z.uuid("must be a UUID");
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
const LabelBody = z.strictObject({
  label: z.enum(LABELS, `must be one of ${LABELS.join(", ")}`),
  source: z.enum(LABEL_SOURCES, `must be one of ${LABEL_SOURCES.join(", ")}`),
  note: z.string().max(2_000).optional(),
});
const PerformanceQuery = z.strictObject({
  since: z.iso.datetime({ offset: true, error: "must be an RFC 3339 time with offset" }).optional(),
  until: z.iso.datetime({ offset: true, error: "must be an RFC 3339 time with offset" }).optional(),
});

const analystOnly = { roles: ["analyst"] as const };
const caseParams = { type: "object", properties: { id: { type: "string", format: "uuid" } } };

/** The case id of the path, or a 400 already sent (undefined). */
function caseIdOf(id: string, reply: FastifyReply): string | undefined {
  if (Uuid.safeParse(id).success) return id.toLowerCase();
  void reply
    .code(400)
    .send({ error: "validation_failed", issues: [{ path: "id", message: "must be a UUID" }] });
  return undefined;
}

function invalid(reply: FastifyReply, error: z.ZodError) {
  return reply.code(400).send({ error: "validation_failed", issues: toIssues(error) });
}

function refused(reply: FastifyReply, why: CaseRefusal) {
  if (why === "not_found") return reply.code(404).send({ error: "not_found", message: "unknown case" });
  return reply.code(409).send({
    error: why === "resolved" ? "case_resolved" : "case_claimed",
    message: why === "resolved" ? "the case is resolved already" : "the case is claimed by another analyst",
  });
}

const isCase = (r: Case | CaseRefusal): r is Case => typeof r === "object";

export function registerCaseRoutes(app: FastifyInstance, deps: CaseRoutesDeps): void {
  const now = deps.now ?? Date.now;

  app.get(
    "/cases",
    {
      config: analystOnly,
      schema: {
        summary: "Cases, newest first (cursor-paged)",
        security: [{ apiKey: [] }],
        querystring: {
          type: "object",
          properties: {
            status: { type: "string", enum: [...CASE_STATUSES] },
            user_id: { type: "string" },
            limit: { type: "integer", minimum: 1, maximum: 500 },
            cursor: { type: "integer" },
          },
        },
        response: { 400: validationErrorSchema },
      },
    },
    async (request, reply) => {
      const q = ListQuery.safeParse(request.query);
      if (!q.success) return invalid(reply, q.error);
      const { cases, nextCursor } = await deps.cases.list({
        status: q.data.status,
        userId: q.data.user_id,
        limit: q.data.limit,
        cursor: q.data.cursor,
      });
      return { cases, next_cursor: nextCursor === null ? null : String(nextCursor) };
    },
  );

  const feed = deps.feed;
  if (feed) {
    // Server-Sent Events: `event: case` with each new review, a comment every 15 s to keep proxies
    // from closing the stream. The console reads it with fetch (it sends the API key as a header).
    app.get(
      "/cases/stream",
      {
        config: analystOnly,
        schema: { summary: "New reviews as Server-Sent Events (event: case)", security: [{ apiKey: [] }] },
      },
      (_request, reply) => {
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-cache, no-transform",
          connection: "keep-alive",
          "x-accel-buffering": "no",
        });
        res.write(": connected\n\n");
        const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
        const unsubscribe = feed.subscribe(
          (event) => res.write(`event: case\ndata: ${JSON.stringify(event)}\n\n`),
          () => res.end(), // shutdown: the console reconnects to another process
        );
        res.once("close", () => {
          clearInterval(keepAlive);
          unsubscribe();
        });
      },
    );
  }

  app.get<{ Params: { id: string } }>(
    "/cases/:id",
    {
      config: analystOnly,
      schema: {
        summary: "A case with its transaction, decision and the user's recent history",
        security: [{ apiKey: [] }],
        params: caseParams,
        response: { 404: errorSchema },
      },
    },
    async (request, reply) => {
      const id = caseIdOf(request.params.id, reply);
      if (!id) return reply;
      const c = await deps.cases.getCase(id);
      if (!c) return refused(reply, "not_found");
      const [transaction, history] = await Promise.all([
        deps.transactions.getTransaction(c.transaction_id),
        deps.cases.userHistory(c.user_id),
      ]);
      return { case: c, transaction, history };
    },
  );

  app.post<{ Params: { id: string } }>(
    "/cases/:id/claim",
    {
      config: analystOnly,
      schema: { summary: "Claim a case", security: [{ apiKey: [] }], params: caseParams },
    },
    async (request, reply) => {
      const id = caseIdOf(request.params.id, reply);
      if (!id) return reply;
      const body = ClaimBody.safeParse(request.body ?? {});
      if (!body.success) return invalid(reply, body.error);
      const r = await deps.cases.claim(id, body.data.analyst);
      return isCase(r) ? r : refused(reply, r);
    },
  );

  app.post<{ Params: { id: string } }>(
    "/cases/:id/release",
    {
      config: analystOnly,
      schema: {
        summary: "Give a claimed case back to the queue",
        security: [{ apiKey: [] }],
        params: caseParams,
      },
    },
    async (request, reply) => {
      const id = caseIdOf(request.params.id, reply);
      if (!id) return reply;
      const body = ReleaseBody.safeParse(request.body ?? {});
      if (!body.success) return invalid(reply, body.error);
      const r = await deps.cases.release(id, body.data.analyst);
      return isCase(r) ? r : refused(reply, r);
    },
  );

  app.post<{ Params: { id: string } }>(
    "/cases/:id/resolve",
    {
      config: analystOnly,
      schema: {
        summary: "Resolve a case with a label; optionally block the user at once",
        security: [{ apiKey: [] }],
        params: caseParams,
      },
    },
    async (request, reply) => {
      const id = caseIdOf(request.params.id, reply);
      if (!id) return reply;
      const body = ResolveBody.safeParse(request.body ?? {});
      if (!body.success) return invalid(reply, body.error);
      const current = await deps.cases.getCase(id);
      if (!current) return refused(reply, "not_found");
      if (current.status === "resolved") return refused(reply, "resolved");
      let blocked: Profile | null = null;
      if (body.data.block_user) {
        // Blocked before the case is resolved: the user's next transaction is declined.
        blocked = await deps.profiles.setStatus(current.user_id, "blocked");
        if (!blocked) {
          return reply.code(409).send({
            error: "no_profile",
            message: `user ${current.user_id} has no profile to block; create one with PUT /users/:id/profile`,
          });
        }
        await deps.refreshCachedProfile(blocked);
      }
      const r = await deps.cases.resolve(current.case_id, {
        label: body.data.label,
        note: body.data.note,
        analyst: body.data.analyst,
      });
      if (!isCase(r)) return refused(reply, r);
      await deps.publishLabel({
        transaction_id: r.transaction_id,
        user_id: r.user_id,
        label: body.data.label,
        source: "analyst",
        ...(body.data.note ? { note: body.data.note } : {}),
        labelled_at: new Date(now()).toISOString(),
      });
      return { ...r, user_blocked: blocked !== null };
    },
  );

  app.post<{ Params: { id: string } }>(
    "/transaction/:id/label",
    {
      config: analystOnly,
      schema: {
        summary: "Label a stored transaction (chargebacks arrive weeks later); the latest label wins",
        security: [{ apiKey: [] }],
        params: caseParams,
        response: { 400: validationErrorSchema, 404: errorSchema },
      },
    },
    async (request, reply) => {
      const id = caseIdOf(request.params.id, reply);
      if (!id) return reply;
      const body = LabelBody.safeParse(request.body ?? {});
      if (!body.success) return invalid(reply, body.error);
      const stored = await deps.cases.label(id, body.data);
      if (!stored) return reply.code(404).send({ error: "not_found", message: "unknown transaction" });
      await deps.publishLabel({
        transaction_id: stored.transaction_id,
        user_id: stored.user_id,
        label: body.data.label,
        source: body.data.source,
        ...(body.data.note ? { note: body.data.note } : {}),
        labelled_at: stored.created_at,
      });
      return reply.code(201).send({ ...stored, label: body.data.label, source: body.data.source });
    },
  );

  app.get(
    "/rules/performance",
    {
      config: analystOnly,
      schema: {
        summary:
          "Per rule (reason) and per outcome: fired, labelled fraud / legitimate, unlabelled, precision",
        security: [{ apiKey: [] }],
        querystring: {
          type: "object",
          properties: {
            since: { type: "string", format: "date-time" },
            until: { type: "string", format: "date-time" },
          },
        },
        response: { 400: validationErrorSchema },
      },
    },
    async (request, reply) => {
      const q = PerformanceQuery.safeParse(request.query);
      if (!q.success) return invalid(reply, q.error);
      const until = q.data.until ? Date.parse(q.data.until) : now() + 1;
      const since = q.data.since ? Date.parse(q.data.since) : until - 30 * 86_400_000;
      const perf = await deps.cases.rulePerformance(since, until);
      return { since: new Date(since).toISOString(), until: new Date(until).toISOString(), ...perf };
    },
  );
}

import type { FastifyPluginAsync, FastifyReply } from "fastify";
import { z } from "zod";
import { textWithoutPan } from "../domain/free-text.ts";
import { SentinelError } from "../errors.ts";
import { whoIs } from "../http/auth.ts";
import { errorSchema, jsonSchemaOf } from "../http/openapi.ts";
import { parseParam, parseRequest } from "../http/validation.ts";
import { SUPERVISED_KINDS } from "./change-kinds.ts";
import { CHANGE_STATUSES, type ChangeStore, type Submitted } from "./change-store.ts";

/*
 * Four eyes over HTTP (issue 37): the proposals, what each would do, their approval (by another
 * name than the proposer's) and their rejection. Admins decide every kind; supervisors decide
 * snoozes, which analysts propose.
 */

export type ChangesPluginDeps = { changes: ChangeStore };

const ChangeId = z.uuid("must be a change id");
const StatusQuery = z.strictObject({ status: z.enum(CHANGE_STATUSES).optional() });
const RejectBody = z.strictObject({ reason: textWithoutPan(500).pipe(z.string().min(1)) });
const deciders = { roles: ["supervisor"] as const };
const secured = { security: [{ apiKey: [] }] };

/**
 * Answers a submitted change: applied, as the route always answered (`status`); proposed, `202`
 * with the pending change (`change_id`, `status: "pending"`, what it does and until when).
 */
export function answerSubmitted(
  reply: FastifyReply,
  submitted: Submitted,
  status = 200,
): FastifyReply | Record<string, unknown> {
  if ("proposed" in submitted) return reply.code(202).send(submitted.proposed);
  return status === 200 ? submitted.applied : reply.code(status).send(submitted.applied);
}

export const changesPlugin: FastifyPluginAsync<ChangesPluginDeps> = async (app, { changes }) => {
  // A supervisor decides what analysts propose (snoozes); an admin decides everything.
  const decides = (role: string) => (kind: string) =>
    role === "admin" || SUPERVISED_KINDS.includes(kind as never);

  app.get<{ Querystring: Record<string, string> }>(
    "/changes",
    {
      config: { roles: ["analyst"] },
      schema: {
        summary: "Proposed changes, newest first (?status=pending|approved|rejected|expired)",
        ...secured,
        querystring: jsonSchemaOf(StatusQuery),
      },
    },
    async (request) => {
      const { status } = parseRequest(StatusQuery, request.query);
      return { approvals_required: changes.approvalsRequired, changes: await changes.list(status) };
    },
  );

  app.get<{ Params: { id: string } }>(
    "/changes/:id",
    {
      config: { roles: ["analyst"] },
      schema: {
        summary: "One proposed change and what it would do now (a diff for a rule set)",
        ...secured,
        response: { 404: errorSchema },
      },
    },
    async (request) => {
      const change = await changes.get(parseParam(ChangeId, request.params.id, "id"));
      if (!change) throw new SentinelError("not_found", "no change with this id");
      return change;
    },
  );

  app.post<{ Params: { id: string } }>(
    "/changes/:id/approve",
    {
      config: deciders,
      schema: {
        summary: "Approve and apply a pending change (not your own; refused when its base moved)",
        ...secured,
        response: { 403: errorSchema, 404: errorSchema, 409: errorSchema },
      },
    },
    async (request) => {
      const who = whoIs(request);
      return changes.approve(parseParam(ChangeId, request.params.id, "id"), who, decides(who.role));
    },
  );

  app.post<{ Params: { id: string } }>(
    "/changes/:id/reject",
    {
      config: deciders,
      schema: {
        summary: "Reject a pending change, saying why (its proposer may withdraw it)",
        ...secured,
        body: jsonSchemaOf(RejectBody),
        response: { 403: errorSchema, 404: errorSchema, 409: errorSchema },
      },
    },
    async (request) => {
      const who = whoIs(request);
      const { reason } = parseRequest(RejectBody, request.body ?? {});
      return changes.reject(parseParam(ChangeId, request.params.id, "id"), reason, who, decides(who.role));
    },
  );
};

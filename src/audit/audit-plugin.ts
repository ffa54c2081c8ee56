import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import { jsonSchemaOf, validationErrorSchema } from "../http/openapi.ts";
import { parseRequest } from "../http/validation.ts";
import type { AuditQuery, AuditRecord } from "./audit-store.ts";

export type AuditPluginDeps = {
  listAudit(q: AuditQuery): Promise<{ entries: AuditRecord[]; nextCursor: number | null }>;
};

const Time = z.iso.datetime({ offset: true, error: "must be an RFC 3339 time with offset" });
export const AuditQuerySchema = z.strictObject({
  since: Time.optional(),
  until: Time.optional(),
  actor: z.string().min(1).max(128).optional(),
  action: z.string().min(1).max(64).optional(),
  target: z.string().min(1).max(256).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.coerce.number().int().positive("must be the next_cursor of a previous page").optional(),
});

/** The query of GET /audit and `sentinel audit`, parsed. */
export function toAuditQuery(q: z.output<typeof AuditQuerySchema>): AuditQuery {
  return {
    sinceMs: q.since ? Date.parse(q.since) : undefined,
    untilMs: q.until ? Date.parse(q.until) : undefined,
    actor: q.actor,
    action: q.action,
    target: q.target,
    limit: q.limit,
    cursor: q.cursor,
  };
}

/** GET /audit (admin): the audit trail, newest first. */
export const auditPlugin: FastifyPluginAsync<AuditPluginDeps> = async (app, deps) => {
  app.get(
    "/audit",
    {
      config: { roles: [] },
      schema: {
        summary: "The audit trail: who changed what, when, before and after (newest first, cursor-paged)",
        security: [{ apiKey: [] }],
        querystring: jsonSchemaOf(AuditQuerySchema),
        response: { 400: validationErrorSchema },
      },
    },
    async (request) => {
      const { entries, nextCursor } = await deps.listAudit(
        toAuditQuery(parseRequest(AuditQuerySchema, request.query)),
      );
      return { entries, next_cursor: nextCursor === null ? null : String(nextCursor) };
    },
  );
};

import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { LABELS } from "../domain/case.ts";
import { FreeText, textWithoutPan } from "../domain/free-text.ts";
import { whoIs } from "../http/auth.ts";
import { errorSchema, jsonSchemaOf } from "../http/openapi.ts";
import { parseParam, parseRequest } from "../http/validation.ts";
import type { CaseRefusal } from "./case-actions.ts";
import type { Case } from "./case-store.ts";
import type { CaseSupervision } from "./case-supervision.ts";
import type { LabelOutbox } from "./label-outbox.ts";

/*
 * Case queues over HTTP (issue 37): a supervisor reassigns and escalates; an analyst resolves
 * every unresolved case of one user or one device at once (all or nothing).
 */

export type QueueRouteDeps = {
  supervision: CaseSupervision;
  labels: Pick<LabelOutbox, "publishPending">;
  refreshCachedProfile: (
    profile: NonNullable<Awaited<ReturnType<CaseSupervision["resolveBulk"]>>["blocked"]>,
  ) => Promise<void>;
  currentCase(id: string): Promise<Case>;
  refuse(r: CaseRefusal): never;
  caseId: z.ZodType<string, string>;
  analystName: z.ZodType<string, string>;
};

const secured = { security: [{ apiKey: [] }] };
const supervisors = { roles: ["supervisor"] as const };
const Entity = textWithoutPan(256).pipe(z.string().min(1));
const EscalateBody = z.strictObject({ reason: textWithoutPan(500).pipe(z.string().min(1)) });
const BulkBody = z
  .strictObject({
    user_id: Entity.optional(),
    device_id: Entity.optional(),
    label: z.enum(LABELS, `must be one of ${LABELS.join(", ")}`),
    note: FreeText.optional(),
    block_user: z.boolean().default(false),
  })
  .refine((b) => (b.user_id === undefined) !== (b.device_id === undefined), {
    message: "name exactly one of user_id, device_id",
    path: ["user_id"],
  });

export function queueRoutes(app: FastifyInstance, deps: QueueRouteDeps): void {
  const AssignBody = z.strictObject({ assignee: deps.analystName });

  /** A supervisor's move on one case: its body parsed, the move made, the case as it is now. */
  const move = <B>(
    path: string,
    summary: string,
    body: z.ZodType<B>,
    act: (id: string, input: B, actor: ReturnType<typeof whoIs>) => Promise<CaseRefusal | undefined>,
  ) =>
    app.post<{ Params: { id: string } }>(
      `/cases/:id/${path}`,
      { config: supervisors, schema: { summary, ...secured, body: jsonSchemaOf(body) } },
      async (request) => {
        const id = parseParam(deps.caseId, request.params.id, "id");
        const refused = await act(id, parseRequest(body, request.body ?? {}), whoIs(request));
        return refused ? deps.refuse(refused) : deps.currentCase(id);
      },
    );
  move(
    "assign",
    "Give a case to an analyst (claimed in their name), whoever held it",
    AssignBody,
    (id, b, who) => deps.supervision.assign(id, b.assignee, who),
  );
  move("escalate", "Put an unresolved case in the escalated queue, saying why", EscalateBody, (id, b, who) =>
    deps.supervision.escalate(id, b.reason, who),
  );

  app.post(
    "/cases/resolve-bulk",
    {
      config: { roles: ["analyst"] },
      schema: {
        summary:
          "Resolve every unresolved case of one user or one device with one label, in one transaction (refused whole when one is claimed by another analyst)",
        ...secured,
        body: jsonSchemaOf(BulkBody),
        response: { 404: errorSchema, 409: errorSchema },
      },
    },
    async (request) => {
      const body = parseRequest(BulkBody, request.body ?? {});
      const scope =
        body.user_id !== undefined
          ? { kind: "user" as const, id: body.user_id }
          : { kind: "device" as const, id: body.device_id! };
      const r = await deps.supervision.resolveBulk(
        scope,
        { label: body.label, note: body.note, blockUser: body.block_user },
        whoIs(request),
      );
      if (r.blocked) await deps.refreshCachedProfile(r.blocked);
      void deps.labels.publishPending();
      return {
        [`${scope.kind}_id`]: scope.id,
        label: body.label,
        resolved: r.resolved,
        user_blocked: r.blocked !== null,
      };
    },
  );
}

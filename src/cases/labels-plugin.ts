import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import { LABEL_SOURCES, LABEL_SOURCES_BY_ROLE, LABELS, type LabelSource } from "../domain/case.ts";
import { FreeText } from "../domain/free-text.ts";
import { SentinelError } from "../errors.ts";
import { whoIs } from "../http/auth.ts";
import { errorSchema, jsonSchemaOf, validationErrorSchema } from "../http/openapi.ts";
import { parseParam, parseRequest } from "../http/validation.ts";
import type { CaseActions } from "./case-actions.ts";
import { analystOnly, CaseId, idParams } from "./cases-plugin.ts";
import type { LabelOutbox } from "./label-outbox.ts";
import type { RulePerformance } from "./rule-performance.ts";

/*
 * Labels for any stored transaction (chargebacks arrive weeks later; published on
 * `transactions.labels`), and what the labels say of each rule.
 */

export type LabelsPluginDeps = {
  actions: Pick<CaseActions, "label">;
  labels: Pick<LabelOutbox, "publishPending">;
  /** Rule performance over [sinceMs, untilMs). */
  rulePerformance: (sinceMs: number, untilMs: number) => Promise<RulePerformance>;
  now?: () => number;
};

const LabelBody = z.strictObject({
  label: z.enum(LABELS, `must be one of ${LABELS.join(", ")}`),
  /** Optional: the key's role decides which sources it may state, and the default (issue 35). */
  source: z.enum(LABEL_SOURCES, `must be one of ${LABEL_SOURCES.join(", ")}`).optional(),
  note: FreeText.optional(),
});
const Time = z.iso.datetime({ offset: true, error: "must be an RFC 3339 time with offset" });
const PerformanceQuery = z.strictObject({ since: Time.optional(), until: Time.optional() });

/**
 * The source a label is recorded with: the stated one if the key's role may state it, else the
 * role's default. An analyst cannot make a label look like a bank's chargeback.
 * @throws SentinelError forbidden when the role may not state that source.
 */
export function labelSource(
  role: keyof typeof LABEL_SOURCES_BY_ROLE,
  stated: LabelSource | undefined,
): LabelSource {
  const allowed: readonly LabelSource[] = LABEL_SOURCES_BY_ROLE[role];
  if (stated === undefined) return allowed[0]!;
  if (!allowed.includes(stated)) {
    throw new SentinelError(
      "forbidden",
      `a key with the ${role} role may label with source ${allowed.join(" or ")}, not ${stated}`,
      { details: { allowed_sources: allowed } },
    );
  }
  return stated;
}

export const labelsPlugin: FastifyPluginAsync<LabelsPluginDeps> = async (app, deps) => {
  const now = deps.now ?? Date.now;

  app.post<{ Params: { id: string } }>(
    "/transaction/:id/label",
    {
      // ingest: a bank's chargeback feed labels with its own key (source chargeback only).
      config: { roles: ["analyst", "ingest"] },
      schema: {
        summary:
          "Label a stored transaction (chargebacks arrive weeks later); the latest label wins; the key's role decides the source",
        security: [{ apiKey: [] }],
        params: idParams,
        body: jsonSchemaOf(LabelBody),
        response: { 400: validationErrorSchema, 404: errorSchema },
      },
    },
    async (request, reply) => {
      const id = parseParam(CaseId, request.params.id, "id");
      const { source: stated, ...body } = parseRequest(LabelBody, request.body ?? {});
      const who = whoIs(request);
      const source = labelSource(who.role, stated);
      const stored = await deps.actions.label(id, { ...body, source }, who);
      if (!stored) throw new SentinelError("not_found", "unknown transaction");
      void deps.labels.publishPending(); // from the outbox: at once, or later if the broker is away
      const { message: _message, ...row } = stored;
      return reply.code(201).send({ ...row, label: body.label, source });
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
        querystring: jsonSchemaOf(PerformanceQuery),
        response: { 400: validationErrorSchema },
      },
    },
    async (request) => {
      const q = parseRequest(PerformanceQuery, request.query);
      const until = q.until ? Date.parse(q.until) : now() + 1;
      const since = q.since ? Date.parse(q.since) : until - 30 * 86_400_000;
      return deps.rulePerformance(since, until);
    },
  );
};

import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { textWithoutPan } from "../domain/free-text.ts";
import { SentinelError } from "../errors.ts";
import type { ChangeStore } from "../governance/change-store.ts";
import { answerSubmitted } from "../governance/changes-plugin.ts";
import { whoIs } from "../http/auth.ts";
import { jsonSchemaOf } from "../http/openapi.ts";
import { parseParam, parseRequest } from "../http/validation.ts";
import { validateRuleSet } from "./rule-language.ts";
import type { RulesStore } from "./rules-store.ts";
import type { EntityKind } from "./snooze-store.ts";

/*
 * Per-entity snoozes over HTTP (issue 37): `POST /snoozes`, `GET /snoozes`, `DELETE /snoozes/:id`,
 * for analysts and admins. The scorer honours them at each transaction's time (evaluator.ts).
 */

const analysts = { roles: ["analyst"] as const };
const EntityId = textWithoutPan(256).pipe(z.string().min(1));
const Reason = textWithoutPan(500).pipe(z.string().min(1));
/** The longest snooze: a silenced rule must come back on its own. */
const MAX_SNOOZE_DAYS = 90;

const SnoozeBody = z
  .strictObject({
    rule: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be a rule id of the active rule set"),
    user_id: EntityId.optional(),
    device_id: EntityId.optional(),
    merchant_id: EntityId.optional(),
    until: z.iso.datetime({ offset: true }),
    reason: Reason,
  })
  .refine((b) => [b.user_id, b.device_id, b.merchant_id].filter((x) => x !== undefined).length === 1, {
    message: "name exactly one of user_id, device_id, merchant_id",
    path: ["user_id"],
  });
const RemoveBody = z.strictObject({ reason: Reason });
const SnoozeId = z.uuid("must be a snooze id");

function entityOf(b: z.infer<typeof SnoozeBody>): { kind: EntityKind; id: string } {
  if (b.user_id !== undefined) return { kind: "user", id: b.user_id };
  if (b.device_id !== undefined) return { kind: "device", id: b.device_id };
  return { kind: "merchant", id: b.merchant_id! };
}

export function snoozeRoutes(app: FastifyInstance, rulesStore: RulesStore, changes: ChangeStore): void {
  app.post(
    "/snoozes",
    {
      config: analysts,
      schema: {
        summary: "Silence one rule for one user, device or merchant until a time (the decisions say so)",
        security: [{ apiKey: [] }],
        body: jsonSchemaOf(SnoozeBody),
      },
    },
    async (request, reply) => {
      const body = parseRequest(SnoozeBody, request.body ?? {});
      const until = Date.parse(body.until);
      if (!(until > Date.now()) || until > Date.now() + MAX_SNOOZE_DAYS * 86_400_000)
        throw new SentinelError(
          "validation_failed",
          `until must be in the future, at most ${MAX_SNOOZE_DAYS} days ahead`,
          {
            issues: [{ path: "until", message: `within the next ${MAX_SNOOZE_DAYS} days` }],
          },
        );
      const active = await rulesStore.active();
      const valid = active ? validateRuleSet(active.document) : undefined;
      if (valid?.ok && !valid.ruleSet.rules.some((r) => r.id === body.rule))
        throw new SentinelError("validation_failed", `the active rule set has no rule ${body.rule}`, {
          issues: [{ path: "rule", message: "not a rule of the active rule set" }],
        });
      const { kind, id } = entityOf(body);
      const payload = { rule: body.rule, kind, id, until: body.until, reason: body.reason };
      return answerSubmitted(reply, await changes.submit("snooze.create", payload, whoIs(request)), 201);
    },
  );

  app.get<{ Querystring: { all?: string } }>(
    "/snoozes",
    {
      config: analysts,
      schema: {
        summary: "Active snoozes (?all=true: ended and removed ones too), newest first",
        security: [{ apiKey: [] }],
      },
    },
    async (request) => ({ snoozes: await rulesStore.snoozes({ all: request.query.all === "true" }) }),
  );

  app.delete<{ Params: { id: string } }>(
    "/snoozes/:id",
    {
      config: analysts,
      schema: {
        summary: "End a snooze now, saying why",
        security: [{ apiKey: [] }],
        body: jsonSchemaOf(RemoveBody),
      },
    },
    async (request, reply) => {
      const id = parseParam(SnoozeId, request.params.id, "id");
      const { reason } = parseRequest(RemoveBody, request.body ?? {});
      return answerSubmitted(reply, await changes.submit("snooze.remove", { id, reason }, whoIs(request)));
    },
  );
}

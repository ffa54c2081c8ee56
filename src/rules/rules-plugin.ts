import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import { z } from "zod";
import { textWithoutPan } from "../domain/free-text.ts";
import { SentinelError } from "../errors.ts";
import type { ChangeStore } from "../governance/change-store.ts";
import { answerSubmitted } from "../governance/changes-plugin.ts";
import { whoIs } from "../http/auth.ts";
import { errorSchema, jsonSchemaOf } from "../http/openapi.ts";
import { parseParam, parseRequest } from "../http/validation.ts";
import type { ListEntryInput } from "./list-store.ts";
import { publishRuleSet } from "./publish-rule-set.ts";
import { validateRuleSet } from "./rule-language.ts";
import type { RulesStore } from "./rules-store.ts";
import { snoozeRoutes } from "./snooze-routes.ts";

/*
 * Rules as data over HTTP, for admins (issue 13): publish a version (validated, content-addressed),
 * list and read them, activate one (running consumers switch within seconds), roll back; and the
 * named lists the rules refer to.
 */

/** `changes`: every change that alters decisions goes through it (four eyes: issue 37). */
export type RulesPluginDeps = { rulesStore: RulesStore; changes: ChangeStore };

const adminOnly = { roles: [] as const };
const ListName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "must be a list name such as blocked_devices");
// List values are scanned for card numbers like any free text (issue 20).
const ListValue = textWithoutPan(256).pipe(z.string().min(1));
const ListReason = textWithoutPan(500).pipe(z.string().min(1));
/** An entry to add: a bare value (for ever, no reason), or with until when it matches and why. */
const ListEntryBody = z.union([
  ListValue,
  z.strictObject({
    value: ListValue,
    expires_at: z.iso.datetime({ offset: true }).optional(),
    reason: ListReason.optional(),
  }),
]);
const ListChange = z
  .strictObject({
    add: z.array(ListEntryBody).max(10_000).default([]),
    remove: z.array(ListValue).max(10_000).default([]),
    /** Why: required for a removal; the reason of the added entries that do not give their own. */
    reason: ListReason.optional(),
  })
  .refine((c) => c.remove.length === 0 || c.reason !== undefined, {
    message: "a removal needs a reason",
    path: ["reason"],
  });

/** The entries of a change, each with its expiry and reason. @throws SentinelError on an expiry past. */
function entriesOf(change: z.infer<typeof ListChange>): ListEntryInput[] {
  return change.add.map((e) => {
    const entry = typeof e === "string" ? { value: e } : e;
    const expiresAt = "expires_at" in entry ? entry.expires_at : undefined;
    if (expiresAt !== undefined && Date.parse(expiresAt) <= Date.now())
      throw new SentinelError("validation_failed", `expires_at of "${entry.value}" is in the past`, {
        issues: [{ path: "add.expires_at", message: "must be in the future" }],
      });
    return {
      value: entry.value,
      expiresAt,
      reason: ("reason" in entry ? entry.reason : undefined) ?? change.reason,
    };
  });
}

export const rulesPlugin: FastifyPluginAsync<RulesPluginDeps> = async (app, { rulesStore, changes }) => {
  app.get(
    "/rules",
    {
      config: adminOnly,
      schema: { summary: "Published rule set versions, the active one marked", security: [{ apiKey: [] }] },
    },
    async () => {
      const versions = await rulesStore.list();
      return { active: versions.find((v) => v.active)?.version ?? null, versions };
    },
  );

  app.get<{ Params: { version: string } }>(
    "/rules/:version",
    {
      config: adminOnly,
      schema: {
        summary: "One rule set version's document",
        security: [{ apiKey: [] }],
        response: { 404: errorSchema },
      },
    },
    async (request) => {
      const doc = await rulesStore.get(request.params.version);
      if (!doc) throw new SentinelError("not_found", "unknown rule set version");
      return doc;
    },
  );

  app.post(
    "/rules",
    {
      config: adminOnly,
      schema: {
        summary: "Publish a rule set (validated; its version is the hash of its canonical JSON)",
        security: [{ apiKey: [] }],
      },
    },
    async (request, reply) => {
      const valid = validateRuleSet(request.body);
      if (!valid.ok)
        throw new SentinelError("validation_failed", "invalid rule set", { issues: valid.issues });
      const { version, created } = await publishRuleSet(rulesStore, valid.ruleSet, whoIs(request));
      return reply.code(created ? 201 : 200).send({ version, created });
    },
  );

  app.post<{ Params: { version: string } }>(
    "/rules/:version/activate",
    {
      config: adminOnly,
      schema: {
        summary: "Activate a published version (consumers switch within seconds)",
        security: [{ apiKey: [] }],
      },
    },
    async (request, reply) =>
      answerSubmitted(
        reply,
        await changes.submit("rules.activate", { version: request.params.version }, whoIs(request)),
      ),
  );

  app.post(
    "/rules/rollback",
    {
      config: adminOnly,
      schema: { summary: "Activate the version that was active before", security: [{ apiKey: [] }] },
    },
    async (request, reply) =>
      answerSubmitted(reply, await changes.submit("rules.rollback", {}, whoIs(request))),
  );

  listRoutes(app, rulesStore, changes);
  snoozeRoutes(app, rulesStore, changes);
};

/** The named lists the rules refer to: entries with expiry and reasons, their history (issue 37). */
function listRoutes(app: FastifyInstance, rulesStore: RulesStore, changes: ChangeStore): void {
  app.get<{ Params: { name: string } }>(
    "/lists/:name",
    { config: adminOnly, schema: { summary: "A named list's entries", security: [{ apiKey: [] }] } },
    async (request) => {
      const name = parseParam(ListName, request.params.name, "name");
      const entries = await rulesStore.listEntries(name);
      return { name, values: entries.filter((e) => !e.expired).map((e) => e.value), entries };
    },
  );

  app.get<{ Params: { name: string } }>(
    "/lists/:name/history",
    {
      config: adminOnly,
      schema: { summary: "A named list's additions and removals, newest first", security: [{ apiKey: [] }] },
    },
    async (request) => {
      const name = parseParam(ListName, request.params.name, "name");
      return { name, history: await rulesStore.listHistory(name) };
    },
  );

  app.post<{ Params: { name: string } }>(
    "/lists/:name",
    {
      config: adminOnly,
      schema: {
        summary:
          "Add entries (with expires_at and reason) and remove them (with a reason); consumers see the change within seconds",
        security: [{ apiKey: [] }],
        body: jsonSchemaOf(ListChange),
      },
    },
    async (request, reply) => {
      const name = parseParam(ListName, request.params.name, "name");
      const change = parseRequest(ListChange, request.body ?? {});
      const payload = { name, add: entriesOf(change), remove: change.remove, reason: change.reason };
      return answerSubmitted(reply, await changes.submit("lists.change", payload, whoIs(request)));
    },
  );
}

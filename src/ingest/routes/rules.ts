import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { ruleSetVersion, validateRuleSet } from "../../rules/rule-language.ts";
import type { RulesStore } from "../../store/rules-store.ts";
import { errorSchema } from "../openapi.ts";

/*
 * Rules as data over HTTP, for admins (issue 13): publish a version (validated, content-addressed),
 * list and read them, activate one (running consumers switch within seconds), roll back; and the
 * named lists the rules refer to.
 */

export type RulesRoutesDeps = { rulesStore: RulesStore };

const adminOnly = { roles: [] as const };
const ListName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "must be a list name such as blocked_devices");
const ListChange = z.strictObject({
  add: z.array(z.string().min(1).max(256)).max(10_000).default([]),
  remove: z.array(z.string().min(1).max(256)).max(10_000).default([]),
});

export function registerRulesRoutes(app: FastifyInstance, { rulesStore }: RulesRoutesDeps): void {
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
    async (request, reply) => {
      const doc = await rulesStore.get(request.params.version);
      return doc ?? reply.code(404).send({ error: "not_found", message: "unknown rule set version" });
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
      if (!valid.ok) return reply.code(400).send({ error: "validation_failed", issues: valid.issues });
      const version = ruleSetVersion(valid.ruleSet);
      const created = await rulesStore.publish(version, valid.ruleSet);
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
    async (request, reply) => {
      if (!(await rulesStore.activate(request.params.version))) {
        return reply
          .code(404)
          .send({ error: "not_found", message: "unknown rule set version: publish it first" });
      }
      return { active: request.params.version };
    },
  );

  app.post(
    "/rules/rollback",
    {
      config: adminOnly,
      schema: { summary: "Activate the version that was active before", security: [{ apiKey: [] }] },
    },
    async (_request, reply) => {
      const version = await rulesStore.rollback();
      return version
        ? { active: version }
        : reply.code(409).send({ error: "nothing_to_roll_back", message: "no earlier active version" });
    },
  );

  app.get<{ Params: { name: string } }>(
    "/lists/:name",
    { config: adminOnly, schema: { summary: "A named list's entries", security: [{ apiKey: [] }] } },
    async (request, reply) => {
      const name = ListName.safeParse(request.params.name);
      if (!name.success)
        return reply.code(400).send({
          error: "validation_failed",
          issues: [{ path: "name", message: name.error.issues[0]!.message }],
        });
      return { name: name.data, values: await rulesStore.listEntries(name.data) };
    },
  );

  app.post<{ Params: { name: string } }>(
    "/lists/:name",
    {
      config: adminOnly,
      schema: {
        summary: "Add and remove entries (consumers see the change within seconds)",
        security: [{ apiKey: [] }],
      },
    },
    async (request, reply) => {
      const name = ListName.safeParse(request.params.name);
      const change = ListChange.safeParse(request.body ?? {});
      if (!name.success || !change.success) {
        const issues = [
          ...(name.success ? [] : [{ path: "name", message: name.error.issues[0]!.message }]),
          ...(change.success
            ? []
            : change.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }))),
        ];
        return reply.code(400).send({ error: "validation_failed", issues });
      }
      const added = change.data.add.length > 0 ? await rulesStore.addToList(name.data, change.data.add) : 0;
      const removed =
        change.data.remove.length > 0 ? await rulesStore.removeFromList(name.data, change.data.remove) : 0;
      return { name: name.data, added, removed };
    },
  );
}

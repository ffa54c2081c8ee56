import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import { z } from "zod";
import { SentinelError } from "../errors.ts";
import type { ChangeStore } from "../governance/change-store.ts";
import { answerSubmitted } from "../governance/changes-plugin.ts";
import { whoIs } from "../http/auth.ts";
import { errorSchema, jsonSchemaOf, validationErrorSchema } from "../http/openapi.ts";
import { parseParam, parseRequest } from "../http/validation.ts";
import type { DeliveryStore } from "./delivery-store.ts";
import type { EndpointStore } from "./endpoint-store.ts";
import {
  DeliveriesQuery,
  EndpointId,
  EndpointInput,
  EndpointPatchInput,
  ReplayInput,
  RotateInput,
} from "./webhook-input.ts";

/*
 * The webhooks over HTTP, for admins (issue 23): endpoints (the secret shown once, at creation and
 * at rotation), their delivery log, a redelivery and a replay of a time range.
 */

export type WebhooksPluginDeps = {
  endpoints: EndpointStore;
  /** Creating, changing and deleting endpoints goes through it (four eyes: issue 37). */
  changes: ChangeStore;
  deliveries: DeliveryStore;
  allowPrivate: boolean;
  secretOverlapMs: number;
};

const adminOnly = { roles: [] as const };
const secured = { security: [{ apiKey: [] }] };
const DeliveryId = z.coerce.number().int().positive("must be a delivery id");

const endpointLookup = (endpoints: EndpointStore) => async (raw: string) => {
  const id = parseParam(EndpointId, raw, "id");
  const endpoint = await endpoints.get(id);
  if (!endpoint) throw new SentinelError("not_found", "unknown webhook endpoint");
  return endpoint;
};

function endpointRoutes(app: FastifyInstance, deps: WebhooksPluginDeps): void {
  const { endpoints } = deps;
  const create = EndpointInput(deps.allowPrivate);
  const patch = EndpointPatchInput(deps.allowPrivate);
  const endpointOr404 = endpointLookup(endpoints);

  app.post(
    "/webhooks/endpoints",
    {
      config: adminOnly,
      schema: {
        summary: "Add an endpoint; the answer carries its signing secret, shown this once",
        ...secured,
        body: jsonSchemaOf(create),
      },
    },
    async (request, reply) => {
      const input = parseRequest(create, request.body);
      return answerSubmitted(
        reply,
        await deps.changes.submit("webhooks.create", { input }, whoIs(request)),
        201,
      );
    },
  );

  app.get(
    "/webhooks/endpoints",
    { config: adminOnly, schema: { summary: "Every endpoint (no secrets)", ...secured } },
    async () => ({ endpoints: await endpoints.list() }),
  );

  app.get<{ Params: { id: string } }>(
    "/webhooks/endpoints/:id",
    {
      config: adminOnly,
      schema: { summary: "One endpoint (no secret)", ...secured, response: { 404: errorSchema } },
    },
    async (request) => endpointOr404(request.params.id),
  );

  app.patch<{ Params: { id: string } }>(
    "/webhooks/endpoints/:id",
    {
      config: adminOnly,
      schema: {
        summary:
          "Change an endpoint's url, events, description or enabled (enabling clears its failing streak; a new url comes with a new secret, shown once, and the old one stops signing)",
        ...secured,
        body: jsonSchemaOf(patch),
        response: { 400: validationErrorSchema, 404: errorSchema },
      },
    },
    async (request, reply) => {
      const id = parseParam(EndpointId, request.params.id, "id");
      const payload = { id, patch: parseRequest(patch, request.body ?? {}) };
      return answerSubmitted(reply, await deps.changes.submit("webhooks.update", payload, whoIs(request)));
    },
  );

  app.delete<{ Params: { id: string } }>(
    "/webhooks/endpoints/:id",
    {
      config: adminOnly,
      schema: {
        summary: "Delete an endpoint and its delivery log",
        ...secured,
        response: { 404: errorSchema },
      },
    },
    async (request, reply) => {
      const id = parseParam(EndpointId, request.params.id, "id");
      const submitted = await deps.changes.submit("webhooks.delete", { id }, whoIs(request));
      return "proposed" in submitted ? answerSubmitted(reply, submitted) : reply.code(204).send();
    },
  );

  app.post<{ Params: { id: string } }>(
    "/webhooks/endpoints/:id/rotate-secret",
    {
      config: adminOnly,
      schema: {
        summary:
          "A new signing secret (shown once); the old one keeps signing beside it for overlap_ms (default WEBHOOK_SECRET_OVERLAP_MS, 24 h; 0 revokes it at once)",
        ...secured,
        body: jsonSchemaOf(RotateInput),
        response: { 400: validationErrorSchema, 404: errorSchema },
      },
    },
    async (request) => {
      const id = parseParam(EndpointId, request.params.id, "id");
      const { overlap_ms } = parseRequest(RotateInput, request.body ?? {});
      const rotated = await endpoints.rotate(id, overlap_ms ?? deps.secretOverlapMs, whoIs(request));
      if (!rotated) throw new SentinelError("not_found", "unknown webhook endpoint");
      return { endpoint_id: id, ...rotated };
    },
  );
}

function deliveryRoutes(app: FastifyInstance, deps: WebhooksPluginDeps): void {
  const { endpoints, deliveries } = deps;
  const endpointOr404 = endpointLookup(endpoints);
  app.get<{ Params: { id: string } }>(
    "/webhooks/endpoints/:id/deliveries",
    {
      config: adminOnly,
      schema: {
        summary:
          "An endpoint's deliveries, newest first, with every attempt (status, latency) and the next retry",
        ...secured,
        querystring: jsonSchemaOf(DeliveriesQuery),
        response: { 400: validationErrorSchema, 404: errorSchema },
      },
    },
    async (request) => {
      const endpoint = await endpointOr404(request.params.id);
      const q = parseRequest(DeliveriesQuery, request.query);
      const page = await deliveries.list(endpoint.endpoint_id, q);
      return {
        deliveries: page.deliveries,
        next_cursor: page.nextCursor === null ? null : String(page.nextCursor),
      };
    },
  );

  app.post<{ Params: { id: string } }>(
    "/webhooks/endpoints/:id/replay",
    {
      config: adminOnly,
      schema: {
        summary: "Send again every delivery whose event is in [since, until), with the same webhook-ids",
        ...secured,
        body: jsonSchemaOf(ReplayInput),
        response: { 400: validationErrorSchema, 404: errorSchema },
      },
    },
    async (request, reply) => {
      const endpoint = await endpointOr404(request.params.id);
      const r = parseRequest(ReplayInput, request.body ?? {});
      const n = await deliveries.replay(
        endpoint.endpoint_id,
        Date.parse(r.since),
        r.until ? Date.parse(r.until) : undefined,
        whoIs(request),
      );
      return reply.code(202).send({ endpoint_id: endpoint.endpoint_id, deliveries: n });
    },
  );

  app.post<{ Params: { id: string } }>(
    "/webhooks/deliveries/:id/redeliver",
    {
      config: adminOnly,
      schema: {
        summary: "Send a delivery again now (same webhook-id)",
        ...secured,
        response: { 404: errorSchema },
      },
    },
    async (request, reply) => {
      const id = parseParam(DeliveryId, request.params.id, "id");
      const row = await deliveries.redeliver(id, whoIs(request));
      if (!row) throw new SentinelError("not_found", "unknown delivery");
      return reply.code(202).send({ ...row, status: "pending" });
    },
  );
}

export const webhooksPlugin: FastifyPluginAsync<WebhooksPluginDeps> = async (app, deps) => {
  endpointRoutes(app, deps);
  deliveryRoutes(app, deps);
};

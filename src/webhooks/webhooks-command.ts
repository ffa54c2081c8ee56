import { cliActor } from "../audit/audit-command.ts";
import type { Config } from "../config.ts";
import { toIssues } from "../domain/transaction.ts";
import { SentinelError } from "../errors.ts";
import type { PayloadOf } from "../governance/change-kinds.ts";
import { submitFromCli } from "../governance/changes-command.ts";
import type { Logger } from "../logger.ts";
import { newTable, out, toJson } from "../ops/output.ts";
import { withPool } from "../store/pool.ts";
import type { Endpoint } from "./endpoint-store.ts";
import type { EventType } from "./events.ts";
import { webhookStores } from "./main.ts";
import {
  DeliveriesQuery,
  EndpointId,
  EndpointInput,
  EndpointPatchInput,
  ReplayInput,
  RotateInput,
} from "./webhook-input.ts";

/*
 * `sentinel webhooks …`: what the HTTP API does with endpoints and deliveries, from the command
 * line (same schemas, audited as the operator). Exit 2 on bad input, 1 on an unknown id.
 */

export type WebhooksAction =
  | "add"
  | "list"
  | "show"
  | "update"
  | "delete"
  | "rotate-secret"
  | "deliveries"
  | "redeliver"
  | "replay";

export type WebhooksCliOptions = {
  json?: boolean;
  events?: string;
  description?: string;
  url?: string;
  enable?: boolean;
  disable?: boolean;
  status?: string;
  limit?: string;
  endpoint?: string;
  since?: string;
  until?: string;
  overlapMs?: string;
};

function parsed<T>(
  result: { success: true; data: T } | { success: false; error: Parameters<typeof toIssues>[0] },
): T {
  if (result.success) return result.data;
  throw new SentinelError(
    "validation_failed",
    toIssues(result.error)
      .map((i) => `${i.path}: ${i.message}`)
      .join("\n"),
  );
}

const events = (s: string | undefined): EventType[] | undefined =>
  s === undefined
    ? undefined
    : (s
        .split(",")
        .map((e) => e.trim())
        .filter(Boolean) as EventType[]);

type Ctx = {
  args: string[];
  opts: WebhooksCliOptions;
  config: Config;
  stores: ReturnType<typeof webhookStores>;
  /** Creating, changing and deleting an endpoint goes through four eyes when on (issue 37). */
  submit: <K extends "webhooks.create" | "webhooks.update" | "webhooks.delete">(
    kind: K,
    payload: PayloadOf<K>,
  ) => Promise<Record<string, unknown> | null>;
};

const idOf = ({ args, opts }: Ctx) => parsed(EndpointId.safeParse(args[0] ?? opts.endpoint));
const unknown = ({ args, opts }: Ctx) =>
  new SentinelError("not_found", `no webhook endpoint ${args[0] ?? opts.endpoint}`);

async function knownEndpoint(ctx: Ctx): Promise<string> {
  const id = idOf(ctx);
  if (!(await ctx.stores.endpoints.get(id))) throw unknown(ctx);
  return id;
}

const handlers: Record<WebhooksAction, (ctx: Ctx) => Promise<void>> = {
  async add({ args, opts, config, submit }) {
    const input = parsed(
      EndpointInput(config.webhooks.allowPrivate).safeParse({
        url: args[0],
        events: events(opts.events) ?? [],
        description: opts.description,
      }),
    );
    const created = (await submit("webhooks.create", { input })) as Endpoint & { secret: string };
    if (!created) return;
    if (opts.json) return out(toJson(created));
    out(`${created.endpoint_id} ${created.url} (${created.events.join(", ")})`);
    out(`signing secret (shown once): ${created.secret}`);
  },
  async list({ opts, stores }) {
    const all = await stores.endpoints.list();
    if (opts.json) return out(toJson(all));
    const table = newTable(["endpoint", "url", "events", "enabled", "failing since"]);
    for (const e of all) {
      const enabled = e.enabled ? "yes" : `no: ${e.disabled_reason ?? ""}`;
      table.push([e.endpoint_id, e.url, e.events.join("\n"), enabled, e.failing_since ?? ""]);
    }
    out(table.toString());
  },
  async show(ctx) {
    const e = await ctx.stores.endpoints.get(idOf(ctx));
    if (!e) throw unknown(ctx);
    out(JSON.stringify(e, null, 2));
  },
  async update(ctx) {
    const { opts } = ctx;
    if (opts.enable && opts.disable)
      throw new SentinelError("validation_failed", "--enable or --disable, not both");
    const patch = parsed(
      EndpointPatchInput(ctx.config.webhooks.allowPrivate).safeParse({
        url: opts.url,
        events: events(opts.events),
        description: opts.description,
        enabled: opts.enable ? true : opts.disable ? false : undefined,
      }),
    );
    await knownEndpoint(ctx);
    const e = (await ctx.submit("webhooks.update", { id: idOf(ctx), patch })) as
      | (Endpoint & { secret?: string })
      | null;
    if (!e) return;
    if (opts.json) return out(toJson(e));
    out(`${e.endpoint_id} updated (enabled: ${e.enabled})`);
    // A new URL came with a new secret; the old one no longer signs (issue 35).
    if (e.secret) out(`new signing secret for the new URL (shown once): ${e.secret}`);
  },
  async delete(ctx) {
    if (await ctx.submit("webhooks.delete", { id: await knownEndpoint(ctx) })) out(`${ctx.args[0]} deleted`);
  },
  async "rotate-secret"(ctx) {
    const { overlap_ms } = parsed(
      RotateInput.safeParse(
        ctx.opts.overlapMs === undefined ? {} : { overlap_ms: Number(ctx.opts.overlapMs) },
      ),
    );
    const r = await ctx.stores.endpoints.rotate(
      idOf(ctx),
      overlap_ms ?? ctx.config.webhooks.secretOverlapMs,
      cliActor(ctx.config),
    );
    if (!r) throw unknown(ctx);
    if (ctx.opts.json) return out(toJson(r));
    out(`new signing secret (shown once): ${r.secret}`);
    out(`the previous secret keeps signing until ${r.previous_expires_at}`);
  },
  async deliveries(ctx) {
    const endpointId = await knownEndpoint(ctx);
    const q = parsed(DeliveriesQuery.safeParse({ status: ctx.opts.status, limit: ctx.opts.limit }));
    const { deliveries } = await ctx.stores.deliveries.list(endpointId, q);
    if (ctx.opts.json) {
      for (const d of deliveries) out(toJson(d));
      return;
    }
    const table = newTable(["delivery", "webhook-id", "event", "status", "attempts", "last", "next attempt"]);
    for (const d of deliveries) {
      const last = d.last_status ?? d.last_error ?? "";
      table.push([
        d.delivery_id,
        d.message_id,
        d.event_type,
        d.status,
        d.attempts.length,
        last,
        d.next_attempt_at ?? "",
      ]);
    }
    out(table.toString());
  },
  async redeliver({ args, stores, config }) {
    const deliveryId = Number(args[0]);
    if (!Number.isInteger(deliveryId) || deliveryId < 1)
      throw new SentinelError("validation_failed", "name a delivery id");
    if (!(await stores.deliveries.redeliver(deliveryId, cliActor(config)))) {
      throw new SentinelError("not_found", `no delivery ${args[0]}`);
    }
    out(`delivery ${deliveryId} will be sent again (same webhook-id)`);
  },
  async replay(ctx) {
    const endpointId = await knownEndpoint(ctx);
    const r = parsed(ReplayInput.safeParse({ since: ctx.opts.since, until: ctx.opts.until }));
    const until = r.until ? Date.parse(r.until) : undefined;
    const n = await ctx.stores.deliveries.replay(
      endpointId,
      Date.parse(r.since),
      until,
      cliActor(ctx.config),
    );
    if (ctx.opts.json) return out(toJson({ endpoint_id: endpointId, deliveries: n }));
    out(`${n} deliveries to ${endpointId} will be sent again (same webhook-ids)`);
  },
};

export async function webhooksCommand(
  config: Config,
  logger: Logger,
  action: WebhooksAction,
  args: string[],
  opts: WebhooksCliOptions,
): Promise<void> {
  await withPool(config, (pool) =>
    handlers[action]({
      args,
      opts,
      config,
      stores: webhookStores({ pool, config, logger }),
      submit: (kind, payload) => submitFromCli(config, pool, kind, payload),
    }),
  );
}

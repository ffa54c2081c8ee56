import { randomBytes } from "node:crypto";
import { type DatabaseTransactionConnection, sql } from "slonik";
import { z } from "zod";
import { type Actor, withAudit } from "../audit/audit-store.ts";
import { withDbErrors } from "../store/db-errors.ts";
import type { DatabasePool } from "../store/pool.ts";
import { ISO_UTC } from "../store/sql-time.ts";
import { EVENT_TYPES, type EventType } from "./events.ts";
import { newSecret, type SecretBox } from "./secret-box.ts";

/*
 * Webhook endpoints (admin): where events go, which ones, and the secrets that sign them. Every
 * change is audited in its transaction; a secret appears once, in the answer that made it, and is
 * stored sealed. Every method throws SentinelError(store_unavailable) when PostgreSQL is away.
 */

const ts = (column: string) =>
  sql.fragment`to_char(${sql.identifier([column])} AT TIME ZONE 'UTC', ${ISO_UTC})`;

const EndpointRow = z.object({
  endpoint_id: z.string(),
  url: z.string(),
  events: z.array(z.enum(EVENT_TYPES)),
  description: z.string().nullable(),
  enabled: z.boolean(),
  disabled_reason: z.string().nullable(),
  failing_since: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type Endpoint = z.output<typeof EndpointRow>;

const COLUMNS = sql.fragment`endpoint_id, url, events, description, enabled, disabled_reason,
  ${ts("failing_since")} AS failing_since, ${ts("created_at")} AS created_at, ${ts("updated_at")} AS updated_at`;

/** What the dispatcher and the intake need of every endpoint: where, what, and the secrets in clear. */
export type EndpointTarget = {
  endpointId: string;
  url: string;
  events: ReadonlySet<EventType>;
  enabled: boolean;
  secrets: readonly string[];
};

/** Who changes an endpoint when nobody asked: the delivery process (410 Gone, 5 days failing). */
export const WEBHOOKS_ACTOR: Actor = { name: "webhooks", role: "system" };

export type EndpointPatch = {
  url?: string;
  events?: EventType[];
  description?: string | null;
  enabled?: boolean;
};

export type EndpointStore = ReturnType<typeof createEndpointStore>;

/** Reading endpoints, and what the delivery process changes on its own (disable). */
function endpointReads(pool: DatabasePool, box: SecretBox) {
  const get = (id: string) =>
    withDbErrors("read webhook endpoint", () =>
      pool.maybeOne(
        sql.type(EndpointRow)`SELECT ${COLUMNS} FROM webhook_endpoints WHERE endpoint_id = ${id}`,
      ),
    );

  return {
    get,

    list: () =>
      withDbErrors("list webhook endpoints", () =>
        pool.any(
          sql.type(EndpointRow)`SELECT ${COLUMNS} FROM webhook_endpoints ORDER BY created_at, endpoint_id`,
        ),
      ),

    /** Disables an endpoint on the delivery process's account; false when it was already off. */
    disable(id: string, reason: string): Promise<boolean> {
      return withAudit(pool, "disable webhook endpoint", WEBHOOKS_ACTOR, async (t, audit) => {
        const changed = await t.maybeOne(sql.type(EndpointRow)`
          UPDATE webhook_endpoints SET enabled = false, disabled_reason = ${reason}, updated_at = now()
          WHERE endpoint_id = ${id} AND enabled RETURNING ${COLUMNS}`);
        if (changed) audit.push({ action: "webhook.disable", target: id, after: { enabled: false, reason } });
        return changed !== null;
      });
    },

    /** Every endpoint with the secrets it signs with now (newest first), opened. */
    async targets(): Promise<EndpointTarget[]> {
      const rows = await withDbErrors("read webhook targets", () =>
        pool.any(sql.type(
          z.object({
            endpoint_id: z.string(),
            url: z.string(),
            events: z.array(z.enum(EVENT_TYPES)),
            enabled: z.boolean(),
            sealed: z.array(z.string()).nullable(),
          }),
        )`
          SELECT e.endpoint_id, e.url, e.events, e.enabled,
            (SELECT array_agg(s.sealed ORDER BY s.secret_id DESC) FROM webhook_secrets s
             WHERE s.endpoint_id = e.endpoint_id AND (s.expires_at IS NULL OR s.expires_at > now())) AS sealed
          FROM webhook_endpoints e`),
      );
      return rows.map((r) => ({
        endpointId: r.endpoint_id,
        url: r.url,
        events: new Set(r.events),
        enabled: r.enabled,
        secrets: (r.sealed ?? []).map((s) => box.open(s)),
      }));
    },
  };
}

/** What admins change: endpoints and their secrets. */
function endpointAdmin(pool: DatabasePool, box: SecretBox) {
  return {
    /** A new endpoint and its first secret (returned in clear this once). */
    create(
      e: { url: string; events: EventType[]; description?: string },
      actor: Actor,
    ): Promise<{ endpoint: Endpoint; secret: string }> {
      const id = `ep_${randomBytes(10).toString("hex")}`;
      const secret = newSecret();
      return withAudit(pool, "create webhook endpoint", actor, async (t, audit) => {
        const endpoint = await t.one(sql.type(EndpointRow)`
          INSERT INTO webhook_endpoints (endpoint_id, url, events, description)
          VALUES (${id}, ${e.url}, ${sql.array(e.events, "text")}, ${e.description ?? null})
          RETURNING ${COLUMNS}`);
        await t.query(sql.unsafe`
          INSERT INTO webhook_secrets (endpoint_id, sealed) VALUES (${id}, ${box.seal(secret)})`);
        audit.push({ action: "webhook.create", target: id, after: endpoint });
        return { endpoint, secret };
      });
    },

    /**
     * Changes what is given; enabling again clears the reason and the failing streak. A new URL
     * comes with a new secret (returned once), and the old one stops signing at once: a secret
     * shared with the old receiver never signs for the new one (issue 35). Null when unknown.
     */
    update(id: string, patch: EndpointPatch, actor: Actor): Promise<(Endpoint & { secret?: string }) | null> {
      return withAudit(pool, "update webhook endpoint", actor, async (t, audit) => {
        const before = await t.maybeOne(sql.type(EndpointRow)`
          SELECT ${COLUMNS} FROM webhook_endpoints WHERE endpoint_id = ${id} FOR UPDATE`);
        if (!before) return null;
        const sets = [
          patch.url !== undefined ? sql.fragment`url = ${patch.url}` : null,
          patch.events !== undefined ? sql.fragment`events = ${sql.array(patch.events, "text")}` : null,
          patch.description !== undefined ? sql.fragment`description = ${patch.description}` : null,
          patch.enabled !== undefined ? sql.fragment`enabled = ${patch.enabled}` : null,
          patch.enabled === true ? sql.fragment`disabled_reason = NULL, failing_since = NULL` : null,
          patch.enabled === false ? sql.fragment`disabled_reason = 'disabled by ' || ${actor.name}` : null,
        ].filter((f) => f !== null);
        const after = await t.one(sql.type(EndpointRow)`
          UPDATE webhook_endpoints SET ${sql.join([...sets, sql.fragment`updated_at = now()`], sql.fragment`, `)}
          WHERE endpoint_id = ${id} RETURNING ${COLUMNS}`);
        audit.push({ action: "webhook.update", target: id, before, after });
        if (after.url === before.url) return after;
        const { secret, previous_expires_at } = await rotateIn(t, box, id, 0);
        audit.push({
          action: "webhook.rotate_secret",
          target: id,
          after: { previous_expires_at, url_changed: true },
        });
        return { ...after, secret };
      });
    },

    /** Deletes an endpoint with its deliveries; false when unknown. */
    remove(id: string, actor: Actor): Promise<boolean> {
      return withAudit(pool, "delete webhook endpoint", actor, async (t, audit) => {
        const before = await t.maybeOne(sql.type(EndpointRow)`
          DELETE FROM webhook_endpoints WHERE endpoint_id = ${id} RETURNING ${COLUMNS}`);
        if (before) audit.push({ action: "webhook.delete", target: id, before });
        return before !== null;
      });
    },

    /**
     * A new secret; the ones in use keep signing beside it for `overlapMs` (receivers switch in
     * that time). Null when the endpoint is unknown.
     */
    rotate(
      id: string,
      overlapMs: number,
      actor: Actor,
    ): Promise<{ secret: string; previous_expires_at: string } | null> {
      return withAudit(pool, "rotate webhook secret", actor, async (t, audit) => {
        const known = await t.exists(sql.unsafe`
          SELECT 1 FROM webhook_endpoints WHERE endpoint_id = ${id} FOR UPDATE`);
        if (!known) return null;
        const rotated = await rotateIn(t, box, id, overlapMs);
        audit.push({
          action: "webhook.rotate_secret",
          target: id,
          after: { previous_expires_at: rotated.previous_expires_at, overlap_ms: overlapMs },
        });
        return rotated;
      });
    },
  };
}

/**
 * A new secret for `id`, in transaction `t`: the secrets in use sign beside it for `overlapMs`
 * (0: they stop at once; one expiring sooner already keeps its time).
 */
async function rotateIn(
  t: DatabaseTransactionConnection,
  box: SecretBox,
  id: string,
  overlapMs: number,
): Promise<{ secret: string; previous_expires_at: string }> {
  const secret = newSecret();
  const expires = await t.oneFirst(sql.type(z.object({ at: z.string() }))`
    WITH e AS (SELECT now() + ${overlapMs} * interval '1 millisecond' AS at), u AS (
      UPDATE webhook_secrets s SET expires_at = e.at FROM e
      WHERE s.endpoint_id = ${id} AND (s.expires_at IS NULL OR s.expires_at > e.at)
    )
    SELECT to_char(at AT TIME ZONE 'UTC', ${ISO_UTC}) AS at FROM e`);
  await t.query(
    sql.unsafe`INSERT INTO webhook_secrets (endpoint_id, sealed) VALUES (${id}, ${box.seal(secret)})`,
  );
  return { secret, previous_expires_at: expires };
}

export function createEndpointStore({ pool, box }: { pool: DatabasePool; box: SecretBox }) {
  return { ...endpointReads(pool, box), ...endpointAdmin(pool, box) };
}

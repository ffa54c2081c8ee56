import type { FastifyInstance, FastifyRequest } from "fastify";
import { SentinelError } from "../errors.ts";
import type { Metrics } from "../metrics.ts";

/*
 * Requests a web page can make on a developer's or an analyst's behalf (issue 35, item 2):
 *  - DNS rebinding: with authentication off (AUTH_DISABLED=true: every caller is admin) only a
 *    loopback `Host` is served, so a page whose name was rebound to 127.0.0.1 gets nothing;
 *  - cross-site requests: a state-changing request whose `Sec-Fetch-Site` says `cross-site`, or
 *    whose `Origin` is not this server's, is refused (in every mode: a browser holding a key in a
 *    page of ours must not be steered by another site);
 *  - simple requests: every POST, PUT and PATCH must say `content-type: application/json`, body or
 *    not (`rollback`, `activate`, `redeliver`): a form or a `text/plain` fetch — the requests a
 *    browser sends cross-site without asking first — never reaches a route.
 */

const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const NEEDS_JSON = new Set(["POST", "PUT", "PATCH"]);

/** The host name of a `Host` header (no port), lower-cased; "" when absent. */
export function hostName(host: string | undefined): string {
  if (!host) return "";
  const h = host.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(0, h.indexOf("]") + 1);
  const colon = h.lastIndexOf(":");
  return colon >= 0 && h.indexOf(":") === colon ? h.slice(0, colon) : h;
}

/**
 * Whether `host` (a name or an address, IPv6 bracketed or not) is loopback: nothing outside this
 * machine reaches it. Where the ingress may listen without keys, and the `Host` it then serves.
 */
export function isLoopback(host: string): boolean {
  const h = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/** Whether `Origin` names this server (scheme and port aside: the host the client reached). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    const url = new URL(origin);
    return url.host.toLowerCase() === (host ?? "").trim().toLowerCase();
  } catch {
    return false; // "null" (a sandboxed or file page) and anything else that is no URL
  }
}

/** Why a request is refused before routing, or undefined. */
export function crossSiteRefusal(
  request: Pick<FastifyRequest, "method" | "headers">,
  { authDisabled }: { authDisabled: boolean },
): SentinelError | undefined {
  const { headers } = request;
  if (authDisabled && !isLoopback(hostName(headers.host))) {
    return new SentinelError(
      "forbidden",
      "authentication is off (AUTH_DISABLED=true): only a loopback Host (localhost, 127.0.0.1, [::1]) is served",
      { details: { reason: "host_not_loopback" } },
    );
  }
  if (!STATE_CHANGING.has(request.method)) return undefined;
  if (headers["sec-fetch-site"] === "cross-site") {
    return new SentinelError("forbidden", "cross-site requests may not change anything", {
      details: { reason: "cross_site" },
    });
  }
  const origin = headers.origin;
  if (origin !== undefined && !sameOrigin(origin, headers.host)) {
    return new SentinelError("forbidden", "requests from another origin may not change anything", {
      details: { reason: "cross_origin" },
    });
  }
  if (NEEDS_JSON.has(request.method)) {
    const type = (headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/json") {
      return new SentinelError(
        "unsupported_media_type",
        `${request.method} needs content-type: application/json (with or without a body)`,
      );
    }
  }
  return undefined;
}

/**
 * Installs the guards (an onRequest hook, before any body is read) and lets an empty body come
 * with `content-type: application/json` (a body-less POST such as a rollback), parsed as none.
 */
export function guardCrossSiteRequests(
  app: FastifyInstance,
  { authDisabled, metrics }: { authDisabled: boolean; metrics: Metrics },
): void {
  app.addHook("onRequest", (request, _reply, done) => {
    const refusal = crossSiteRefusal(request, { authDisabled });
    if (refusal) metrics.http.rejected.inc({ reason: (refusal.details?.reason as string) ?? refusal.code });
    done(refusal);
  });
  const json = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text === "") done(null, undefined);
    else json(request, text, done);
  });
}

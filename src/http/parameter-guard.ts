import type { FastifyInstance, FastifyRequest } from "fastify";
import { containsPanText, maskPans } from "../domain/pan.ts";
import { SentinelError } from "../errors.ts";
import type { Metrics } from "../metrics.ts";

/*
 * Path and query parameters (issue 35, item 3). A control character in one (a NUL that PostgreSQL
 * refuses, a newline that forges a log line) is refused with 400 before any route sees it. And no
 * log line carries a raw URL: a card number typed into a query string would be written to disk.
 * Logs name the route's template and its parameters with card numbers masked.
 */

// C0 controls, DEL and C1 controls: nothing a name, an id or a search term needs.
const CONTROL = /\p{Cc}/u;
const CONTROLS = /\p{Cc}/gu;

type Parameters = Record<string, unknown>;

/** The first path or query parameter one of whose values `holds`, as `path.name` or `query.name`. */
function firstParameter(
  request: Pick<FastifyRequest, "params" | "query">,
  holds: (value: string) => boolean,
): string | undefined {
  for (const [where, values] of [
    ["path", request.params],
    ["query", request.query],
  ] as const) {
    if (!values || typeof values !== "object") continue;
    for (const [name, value] of Object.entries(values as Parameters)) {
      const list = Array.isArray(value) ? value : [value];
      if (list.some((v) => typeof v === "string" && holds(v))) return `${where}.${maskPans(name)}`;
    }
  }
  return undefined;
}

/** The first parameter holding a control character, as `path` or `query.name`, or undefined. */
export function controlCharacterIn(request: Pick<FastifyRequest, "params" | "query">): string | undefined {
  return firstParameter(request, (v) => CONTROL.test(v));
}

/** What a log line may say of a request: the route's template, its parameters masked. */
export function loggableRequest(request: Pick<FastifyRequest, "params" | "query" | "routeOptions">): {
  route: string;
  params?: Parameters;
  query?: Parameters;
} {
  const mask = (values: unknown): Parameters | undefined => {
    if (!values || typeof values !== "object" || Object.keys(values).length === 0) return undefined;
    return Object.fromEntries(
      Object.entries(values as Parameters).map(([k, v]) => [
        k,
        typeof v === "string" ? maskPans(v.replace(CONTROLS, "?").slice(0, 256)) : "(…)",
      ]),
    );
  };
  const params = mask(request.params);
  const query = mask(request.query);
  return {
    route: request.routeOptions?.url ?? "unmatched",
    ...(params ? { params } : {}),
    ...(query ? { query } : {}),
  };
}

/** The first parameter holding a card number, as `path` or `query.name` (masked), or undefined. */
export function panIn(request: Pick<FastifyRequest, "params" | "query">): string | undefined {
  return firstParameter(request, (v) => v.length >= 13 && containsPanText(v));
}

/**
 * Refuses a control character in any path or query parameter with 400 `validation_failed`, and a
 * card number in one with 400 `pan_not_allowed` (law 7: a PAN in a URL would reach logs, caches
 * and proxies).
 */
export function guardParameters(app: FastifyInstance, metrics: Metrics): void {
  app.addHook("preValidation", (request, _reply, done) => {
    const where = controlCharacterIn(request);
    if (where) {
      metrics.http.rejected.inc({ reason: "control_character" });
      done(
        new SentinelError("validation_failed", "control characters are not allowed in parameters", {
          issues: [{ path: where, message: "must not contain control characters" }],
        }),
      );
      return;
    }
    const pan = panIn(request);
    if (pan) {
      metrics.http.rejected.inc({ reason: "pan_not_allowed" });
      done(
        new SentinelError(
          "pan_not_allowed",
          "a parameter looks like a card number; send a token, never a PAN",
          {
            issues: [{ path: pan, message: "looks like a card number" }],
          },
        ),
      );
      return;
    }
    done();
  });
}

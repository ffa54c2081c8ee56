import type { FastifyInstance, FastifyRequest } from "fastify";
import { maskPans } from "../domain/pan.ts";
import { SentinelError } from "../errors.ts";
import type { Metrics } from "../metrics.ts";

/*
 * Path and query parameters (issue 35, item 3). A control character in one (a NUL that PostgreSQL
 * refuses, a newline that forges a log line) is refused with 400 before any route sees it. And no
 * log line carries a raw URL: a card number typed into a query string would be written to disk.
 * Logs name the route's template and its parameters with card numbers masked.
 */

// C0 controls, DEL and C1 controls: nothing a name, an id or a search term needs.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

type Parameters = Record<string, unknown>;

/** The first parameter holding a control character, as `path` or `query.name`, or undefined. */
export function controlCharacterIn(request: Pick<FastifyRequest, "params" | "query">): string | undefined {
  for (const [where, values] of [
    ["path", request.params],
    ["query", request.query],
  ] as const) {
    if (!values || typeof values !== "object") continue;
    for (const [name, value] of Object.entries(values as Parameters)) {
      const list = Array.isArray(value) ? value : [value];
      if (list.some((v) => typeof v === "string" && CONTROL.test(v))) return `${where}.${name}`;
    }
  }
  return undefined;
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

/** Refuses a control character in any path or query parameter with 400 `validation_failed`. */
export function refuseControlCharacters(app: FastifyInstance, metrics: Metrics): void {
  app.addHook("preValidation", (request, _reply, done) => {
    const where = controlCharacterIn(request);
    if (!where) return done();
    metrics.http.rejected.inc({ reason: "control_character" });
    done(
      new SentinelError("validation_failed", "control characters are not allowed in parameters", {
        issues: [{ path: where, message: "must not contain control characters" }],
      }),
    );
  });
}

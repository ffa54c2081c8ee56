import type { FastifyError, FastifyInstance } from "fastify";
import { maskPans } from "../domain/pan.ts";
import { httpStatusOf, SentinelError } from "../errors.ts";
import type { Metrics } from "../metrics.ts";
import { loggableRequest } from "./parameter-guard.ts";

/*
 * The one place HTTP errors are written. Routes throw SentinelErrors (src/errors.ts is the
 * catalogue); this maps each to its status and body:
 *  - with issues (a refused body or parameter): `{error, issues}`;
 *  - retryable (an outage): 503 `{error: "unavailable", message}` and `retry-after: 1`;
 *  - any other: `{error: code, message}`; details (transaction_id, required_role) are added.
 * Fastify's own client errors get our codes; anything else is a 500 that is logged, with no detail
 * in the body.
 */

const FASTIFY_CODES: Record<string, { code: string; status: number }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: "unsupported_media_type", status: 415 },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "payload_too_large", status: 413 },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: "malformed_json", status: 400 },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "malformed_json", status: 400 },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: "malformed_json", status: 400 },
};

export function installErrorHandling(app: FastifyInstance, metrics: Metrics): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const known = error.code ? FASTIFY_CODES[error.code] : undefined;
    if (known) {
      metrics.http.rejected.inc({ reason: known.code });
      return reply.code(known.status).send({ error: known.code, message: error.message });
    }
    const status = httpStatusOf(error);
    const ours = error instanceof SentinelError ? error : undefined;
    if (ours?.retryable) {
      reply.header("retry-after", "1");
      return reply.code(status).send({ error: "unavailable", message: ours.message, ...ours.details });
    }
    if (status >= 500) {
      // The route's template and masked parameters, never the URL (parameter-guard.ts).
      request.log.error({ err: error, ...loggableRequest(request) }, "unhandled error");
      return reply.code(500).send({ error: "internal", message: "internal error" });
    }
    if (ours?.issues)
      return reply.code(status).send({ error: ours.code, issues: ours.issues, ...ours.details });
    return reply
      .code(status)
      .send({ error: ours?.code ?? "bad_request", message: error.message, ...ours?.details });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      error: "not_found",
      message: `no route ${request.method} ${maskPans(request.url.split("?")[0]!)}`,
    }),
  );
}

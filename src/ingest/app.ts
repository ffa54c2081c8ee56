import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { join } from "node:path";
import fastifyStatic from "@fastify/static";
import swagger from "@fastify/swagger";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from "fastify";
import type { Config, Role } from "../config.ts";
import { httpStatusOf, SentinelError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { createApiKeyCheck } from "./api-key.ts";
import { type CaseRoutesDeps, registerCaseRoutes } from "./routes/cases.ts";
import { type Readiness, registerOpsRoutes } from "./routes/ops.ts";
import { type ProfileRoutesDeps, registerProfileRoutes } from "./routes/profiles.ts";
import { type RulesRoutesDeps, registerRulesRoutes } from "./routes/rules.ts";
import { registerTransactionRoutes, type TransactionRoutesDeps } from "./routes/transactions.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The roles (besides admin) whose keys may call the route; none: admin only. */
    roles?: readonly Role[];
  }
}

export type IngestDeps = TransactionRoutesDeps &
  ProfileRoutesDeps & {
    config: Pick<Config, "http">;
    /** The analyst's routes (cases, labels, rule performance); absent, they are not served. */
    analyst?: Omit<CaseRoutesDeps, "transactions" | "refreshCachedProfile">;
    /** Rule sets and lists (admin); absent, they are not served. */
    rules?: RulesRoutesDeps;
    logger: Logger;
    metrics: Metrics;
    readiness: Readiness;
    /** Closed by the app's onClose hook, after in-flight requests are done. */
    onClose?: () => Promise<void>;
  };

/** Fastify's own client errors, in our error vocabulary. */
const FASTIFY_CODES: Record<string, { code: string; status: number }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: "unsupported_media_type", status: 415 },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "payload_too_large", status: 413 },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: "malformed_json", status: 400 },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "malformed_json", status: 400 },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: "malformed_json", status: 400 },
};

/**
 * The ingress as a Fastify instance that does not listen: tests drive it with inject(), and
 * only main calls listen().
 */
export async function buildIngest(deps: IngestDeps): Promise<FastifyInstance> {
  const { config, logger, metrics } = deps;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger, // pino's Logger, seen through fastify's narrower type
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.http.bodyLimitBytes,
    requestIdHeader: "x-request-id",
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    forceCloseConnections: "idle",
    // A client that sends its request slowly cannot hold a connection for ever: Node answers 408
    // past requestTimeout, checked every half second (Node's default check is every 30 s), and
    // closes a socket silent for connectionTimeout.
    serverFactory: (handler) => {
      const server = createServer(
        {
          requestTimeout: config.http.requestTimeoutMs,
          headersTimeout: Math.min(60_000, config.http.requestTimeoutMs),
          connectionsCheckingInterval: 500,
        },
        handler,
      );
      server.timeout = config.http.connectionTimeoutMs;
      return server;
    },
  });

  // JSON only: anything else is 415 (fastify would otherwise accept text/plain as a string).
  app.removeContentTypeParser(["text/plain"]);

  // zod validates inside the handlers (one schema for HTTP and Kafka); route schemas exist for the
  // OpenAPI document and for fast response serialization only.
  app.setValidatorCompiler(() => () => true);

  await app.register(swagger, {
    openapi: {
      info: {
        title: "SentinelStream ingest",
        version: "1.0.0",
        description: "Payment transactions in, fraud decisions out.",
      },
      components: {
        securitySchemes: { apiKey: { type: "apiKey", in: "header", name: "x-api-key" } },
      },
    },
  });
  app.get("/docs/json", { schema: { hide: true } }, async () => app.swagger());

  /*
   * Shutdown: requests in flight when close() starts still get their answer, but their keep-alive
   * connections must not outlive it — Node's server.close() waits for every connection, and a
   * client's idle keep-alive socket would hold the shutdown for its whole timeout (seen: past the
   * 10 s budget). Fastify closes the idle ones once, at the start; connections that become idle
   * afterwards are closed here every 50 ms until the server is closed. Nothing on the request path.
   */
  let sweeper: NodeJS.Timeout | undefined;
  app.addHook("preClose", (done) => {
    // Requests waiting for a decision are answered now, with the 202 they would get on a timeout.
    deps.sync?.waiters.closeAll();
    deps.analyst?.feed?.close();
    sweeper = setInterval(() => app.server.closeIdleConnections(), 50);
    sweeper.unref();
    done();
  });
  app.addHook("onClose", (_instance, done) => {
    clearInterval(sweeper);
    done();
  });

  // Callback-style hooks: no promise per request on the hot path.
  app.addHook("onRequest", (_request, _reply, done) => {
    metrics.http.inFlight.inc();
    done();
  });
  app.addHook("onResponse", (request, reply, done) => {
    metrics.http.inFlight.dec();
    const seconds = reply.elapsedTime / 1000;
    metrics.http.duration.observe(
      { method: request.method, route: request.routeOptions.url ?? "unmatched", status: reply.statusCode },
      seconds,
    );
    if (reply.statusCode >= 500) {
      request.log.warn({ status: reply.statusCode, url: request.url, ms: seconds * 1000 }, "request failed");
    } else if (logger.isLevelEnabled("debug")) {
      request.log.debug({ status: reply.statusCode, url: request.url, ms: seconds * 1000 }, "request");
    }
    done();
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const known = error.code ? FASTIFY_CODES[error.code] : undefined;
    if (known) {
      metrics.http.rejected.inc({ reason: known.code });
      return reply.code(known.status).send({ error: known.code, message: error.message });
    }
    const status = httpStatusOf(error);
    if (error instanceof SentinelError && error.retryable) {
      reply.header("retry-after", "1");
      return reply.code(status).send({ error: "unavailable", message: error.message });
    }
    if (status >= 500) {
      request.log.error({ err: error }, "unhandled error");
      return reply.code(500).send({ error: "internal", message: "internal error" });
    }
    const code = error instanceof SentinelError ? error.code : "bad_request";
    return reply.code(status).send({ error: code, message: error.message });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: "not_found", message: `no route ${request.method} ${request.url}` }),
  );

  // Health, readiness and metrics are open; everything else lives in a scope of its own whose
  // hook asks for an API key (when keys are configured).
  registerOpsRoutes(app, deps);
  // The analyst console: static files only (no data without an analyst key, which the page asks for).
  if (deps.analyst) {
    await app.register(fastifyStatic, {
      root: join(import.meta.dirname, "console"),
      prefix: "/console/",
      redirect: true,
      index: ["index.html"],
      cacheControl: false,
    });
    app.get("/console", { schema: { hide: true } }, (_request, reply) => reply.redirect("/console/", 302));
  }
  await app.register(async (scope) => {
    if (config.http.apiKeys.length > 0) {
      const check = createApiKeyCheck(config.http.apiKeys);
      scope.addHook("onRequest", async (request, reply) => {
        const presented = request.headers["x-api-key"];
        const role = check(typeof presented === "string" ? presented : undefined);
        if (!role) {
          metrics.http.rejected.inc({ reason: "unauthorized" });
          return reply.code(401).send({ error: "unauthorized", message: "missing or invalid x-api-key" });
        }
        // Each route names the roles it admits (config.roles); admin keys are admitted everywhere.
        const allowed = request.routeOptions.config.roles ?? [];
        if (role !== "admin" && !allowed.includes(role)) {
          metrics.http.rejected.inc({ reason: "forbidden" });
          const needed = allowed[0] ?? "admin";
          return reply.code(403).send({
            error: "forbidden",
            message: `this route needs a key with the ${needed} role${needed === "admin" ? "" : " (or admin)"}; yours is ${role}`,
            required_role: needed,
          });
        }
      });
    }
    registerTransactionRoutes(scope, deps);
    registerProfileRoutes(scope, deps);
    if (deps.rules) registerRulesRoutes(scope, deps.rules);
    if (deps.analyst) {
      registerCaseRoutes(scope, {
        ...deps.analyst,
        transactions: deps.transactions,
        refreshCachedProfile: deps.refreshCachedProfile,
      });
    }
  });

  if (deps.onClose) {
    const close = deps.onClose;
    app.addHook("onClose", async () => close());
  }
  return app;
}

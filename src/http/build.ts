import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import swagger from "@fastify/swagger";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import type { Redis } from "ioredis";
import type { Config } from "../config.ts";
import { ROLES, type Role } from "../config-values.ts";
import { MAX_JSON_DEPTH, nestedDeeperThan } from "../domain/json-depth.ts";
import { SentinelError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { admits, decorateIdentity, requireApiKeys, whoIs } from "./auth.ts";
import { installErrorHandling } from "./error-handler.ts";
import { opsPlugin, type Readiness } from "./ops-plugin.ts";
import { guardParameters, loggableRequest } from "./parameter-guard.ts";
import { limitPerKey } from "./rate-limit.ts";
import { guardCrossSiteRequests } from "./request-guards.ts";

/*
 * The HTTP layer every feature is served through: the server and its timeouts, the OpenAPI
 * document, request metrics and logs, deep bodies refused, errors mapped (error-handler.ts), keys
 * checked (auth.ts), health and metrics (ops-plugin.ts). It knows no feature: the application's
 * assembly (src/app/build-app.ts) hands it the features' plugins to register.
 */

export type HttpDeps = {
  config: Pick<Config, "http">;
  logger: Logger;
  metrics: Metrics;
  readiness: Readiness;
  /** Where every ingress counts each key's requests (rate-limit.ts); absent: counted per process. */
  rateLimitStore?: { redis: Redis; keyPrefix: string };
  /** Closed by the app's onClose hook, after in-flight requests are done. */
  onClose?: () => Promise<void>;
};

/** What the application serves, registered by the features' plugins. */
export type HttpFeatures = {
  /** Routes open to every caller (the console's static files). */
  open?(app: FastifyInstance): Promise<void>;
  /** Routes in the scope whose hook asks for an API key (when keys are configured). */
  keyed(scope: FastifyInstance): Promise<void>;
};

/** The server under Fastify: a client that sends its request slowly cannot hold a connection for ever. */
/** Who may call a keyed route, for the documentation: as `admits` (auth.ts) decides, admin first. */
const rolesOf = (roles: readonly Role[]) => [
  "admin",
  ...ROLES.filter((r) => r !== "admin" && admits(roles, r)),
];

function serverFactory(http: Config["http"]) {
  return (handler: Parameters<typeof createServer>[1]) => {
    // Node answers 408 past requestTimeout, checked every half second (Node's default check is every
    // 30 s), and closes a socket silent for connectionTimeout.
    const server = createServer(
      {
        requestTimeout: http.requestTimeoutMs,
        headersTimeout: Math.min(60_000, http.requestTimeoutMs),
        connectionsCheckingInterval: 500,
      },
      handler,
    );
    server.timeout = http.connectionTimeoutMs;
    return server;
  };
}

/**
 * Shutdown: requests in flight when close() starts still get their answer, but their keep-alive
 * connections must not outlive it — Node's server.close() waits for every connection, and a
 * client's idle keep-alive socket would hold the shutdown for its whole timeout (seen: past the
 * 10 s budget). Fastify closes the idle ones once, at the start; connections that become idle
 * afterwards are closed here every 50 ms until the server is closed. Nothing on the request path.
 */
function closeIdleConnectionsWhileClosing(app: FastifyInstance): void {
  let sweeper: NodeJS.Timeout | undefined;
  app.addHook("preClose", (done) => {
    sweeper = setInterval(() => app.server.closeIdleConnections(), 50);
    sweeper.unref();
    done();
  });
  app.addHook("onClose", (_instance, done) => {
    clearInterval(sweeper);
    done();
  });
}

/** Request metrics and logs. Callback-style hooks: no promise per request on the hot path. */
function observeRequests(app: FastifyInstance, logger: Logger, metrics: Metrics): void {
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
    // Never the raw URL: a card number in a query string would be logged (parameter-guard.ts).
    if (reply.statusCode >= 500) {
      request.log.warn(
        { status: reply.statusCode, ...loggableRequest(request), ms: seconds * 1000 },
        "request failed",
      );
    } else if (logger.isLevelEnabled("debug")) {
      request.log.debug(
        { status: reply.statusCode, ...loggableRequest(request), ms: seconds * 1000 },
        "request",
      );
    }
    done();
  });
}

/**
 * A body nested deeper than MAX_JSON_DEPTH is refused with 400 before any route scans it: every
 * scan of a body is iterative, and none has to walk a hostile depth (issue 20).
 */
function refuseDeepBodies(app: FastifyInstance, metrics: Metrics): void {
  app.addHook("preValidation", (request, _reply, done) => {
    const body = request.body;
    if (body !== null && typeof body === "object" && nestedDeeperThan(body, MAX_JSON_DEPTH)) {
      metrics.http.rejected.inc({ reason: "too_deep" });
      done(
        new SentinelError("validation_failed", "body nested too deep", {
          issues: [{ path: "(body)", message: `nested deeper than ${MAX_JSON_DEPTH} levels` }],
        }),
      );
      return;
    }
    done();
  });
}

/** The HTTP API as a Fastify instance that does not listen: tests drive it with inject(); main listens. */
export async function buildHttp(deps: HttpDeps, features: HttpFeatures): Promise<FastifyInstance> {
  const { config, logger, metrics } = deps;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger, // pino's Logger, seen through fastify's narrower type
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.http.bodyLimitBytes,
    requestIdHeader: "x-request-id",
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    forceCloseConnections: "idle",
    serverFactory: serverFactory(config.http),
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
      components: { securitySchemes: { apiKey: { type: "apiKey", in: "header", name: "x-api-key" } } },
    },
    // The roles whose keys may call each keyed route (admin keys call every route), as `x-roles`.
    transform: ({ schema, url, route }) => ({
      schema: schema?.security ? { ...schema, "x-roles": rolesOf(route.config?.roles ?? []) } : schema,
      url,
    }),
  });
  // With an internal port, /metrics and /docs are served there only (src/http/ops-server.ts).
  const internal = config.http.internalPort > 0;
  closeIdleConnectionsWhileClosing(app);
  observeRequests(app, logger, metrics);
  guardCrossSiteRequests(app, { authDisabled: config.http.authDisabled, metrics });
  refuseDeepBodies(app, metrics);
  guardParameters(app, metrics);
  decorateIdentity(app);
  installErrorHandling(app, metrics);

  // Health, readiness, metrics and the console's static files are open; everything else lives in
  // a scope whose hook asks for an API key (when keys are configured).
  await app.register(opsPlugin, {
    readiness: deps.readiness,
    metrics,
    ...(internal ? { serveMetrics: false } : { docs: () => app.swagger() }),
  });
  if (features.open) await app.register(features.open);
  await app.register(async (scope) => {
    if (config.http.apiKeys.length > 0) {
      requireApiKeys(scope, config.http.apiKeys, metrics);
      await limitPerKey(scope, {
        limits: config.http.rateLimit,
        ...(deps.rateLimitStore ?? { keyPrefix: "" }),
        metrics,
      });
    }
    scope.get(
      "/me",
      {
        config: { roles: ["ingest", "analyst"] },
        schema: { summary: "Who this key is: its role and name", security: [{ apiKey: [] }] },
      },
      async (request) => whoIs(request),
    );
    await features.keyed(scope);
  });

  if (deps.onClose) {
    const close = deps.onClose;
    app.addHook("onClose", async () => close());
  }
  return app;
}

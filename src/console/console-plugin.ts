import fastifyStatic from "@fastify/static";
import type { FastifyPluginAsync } from "fastify";

/*
 * The analyst console at /console: static files only. The page holds no data until the analyst
 * enters a key; it then calls the cases API with it (x-api-key) and follows GET /cases/stream.
 */
/**
 * No inline script or style, nothing from elsewhere, no framing (issue 20): even a name that got
 * into the data as markup could not run in an analyst's page, which holds the analyst's key.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export const consolePlugin: FastifyPluginAsync = async (app) => {
  app.addHook("onSend", (_request, reply, payload, done) => {
    reply.header("content-security-policy", CONTENT_SECURITY_POLICY);
    reply.header("x-content-type-options", "nosniff");
    reply.header("x-frame-options", "DENY");
    reply.header("referrer-policy", "no-referrer");
    done(null, payload);
  });
  await app.register(fastifyStatic, {
    root: import.meta.dirname,
    prefix: "/console/",
    redirect: true,
    index: ["index.html"],
    cacheControl: false,
    // Only the page's own files: not this plugin's source.
    allowedPath: (path) =>
      /^\/(index\.html|console\.js|chart\.js|dom\.js|team\.js|perf\.js|console\.css)?$/.test(path),
  });
  app.get("/console", { schema: { hide: true } }, (_request, reply) => reply.redirect("/console/", 302));
};

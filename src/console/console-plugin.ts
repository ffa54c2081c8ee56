import fastifyStatic from "@fastify/static";
import type { FastifyPluginAsync } from "fastify";

/*
 * The analyst console at /console: static files only. The page holds no data until the analyst
 * enters a key; it then calls the cases API with it (x-api-key) and follows GET /cases/stream.
 */
export const consolePlugin: FastifyPluginAsync = async (app) => {
  await app.register(fastifyStatic, {
    root: import.meta.dirname,
    prefix: "/console/",
    redirect: true,
    index: ["index.html"],
    cacheControl: false,
    // Only the page's own files: not this plugin's source.
    allowedPath: (path) => /^\/(index\.html|console\.js|console\.css)?$/.test(path),
  });
  app.get("/console", { schema: { hide: true } }, (_request, reply) => reply.redirect("/console/", 302));
};

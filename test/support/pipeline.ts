import type pg from "pg";
import { afterAll, beforeAll, expect } from "vitest";
import { sqlClient } from "./context.ts";
import { type InProcess, startInProcess } from "./in-process.ts";
import { eventually } from "./topics.ts";

/*
 * The whole pipeline (ingest + consumer) in the test process for one test file, with a SQL client
 * on its database and an HTTP helper; registered as the file's beforeAll/afterAll. Waits until the
 * ingress's decision listener has joined, so `Prefer: wait` answers from the first request.
 */

export type Pipeline = InProcess & {
  base: string;
  db: pg.Client;
  /** A request to the ingress: JSON body, `key` as x-api-key when given. */
  request(
    method: string,
    path: string,
    options?: { body?: unknown; key?: string; headers?: Record<string, string>; base?: string },
  ): Promise<Response>;
};

export function usePipeline(
  overrides: Record<string, string> = {},
  { webhooks = false }: { webhooks?: boolean } = {},
): Pipeline {
  const handle = {} as Pipeline;
  beforeAll(async () => {
    // Waits long enough for a loaded CI machine: a test that asks for a decision must get one.
    const app = await startInProcess({
      ingest: true,
      consumer: true,
      webhooks,
      overrides: { SYNC_WAIT_MAX_MS: "15000", ...overrides },
    });
    Object.assign(handle, app, {
      base: app.ingest!.address,
      db: await sqlClient(app.ctx.config),
      request: (method: string, path: string, o: Parameters<Pipeline["request"]>[2] = {}) =>
        fetch(`${o.base ?? app.ingest!.address}${path}`, {
          method,
          headers: {
            // Every POST, PUT and PATCH says JSON, body or not (the server refuses others: issue 35).
            ...(o.body === undefined && !["POST", "PUT", "PATCH"].includes(method)
              ? {}
              : { "content-type": "application/json" }),
            ...(o.key ? { "x-api-key": o.key } : {}),
            ...o.headers,
          },
          body: o.body === undefined ? undefined : JSON.stringify(o.body),
        }),
    });
    expect(await eventually(async () => app.ingest!.syncReady(), 30_000, 100)).toBe(true);
  });
  afterAll(async () => {
    await handle.db?.end();
    await handle.stop?.();
  });
  return handle;
}

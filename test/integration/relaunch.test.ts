import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HEAP_GROWING_PERCENT, SEMI_SPACE_MIB } from "../../src/cli/relaunch.ts";
import { createTestContext, type TestContext } from "../support/context.ts";
import { spawnSentinel, waitForHttp } from "../support/processes.ts";

/* A service started as an operator starts it runs, under the same pid, with the services' V8
   settings (src/cli/relaunch.ts) — or with the operator's own. */

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx?.cleanup();
});

/** The environment the process runs with now (after any execve), from /proc. */
function environOf(pid: number): Record<string, string> {
  const pairs = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
  return Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
}

/** Node's command line the process runs with now, from /proc. */
function cmdlineOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
}

describe("a service's V8 settings", () => {
  it.each([
    ["(none)", undefined, `--max-semi-space-size=${SEMI_SPACE_MIB}`],
    ["the operator's", "--max-semi-space-size=16", "--max-semi-space-size=16"],
  ])(
    "NODE_OPTIONS %s: the ingress runs with the semi-space asked for",
    async (_label, given, expected) => {
      const port = 19_000 + Math.floor(Math.random() * 1000);
      const ingest = spawnSentinel(["ingest"], {
        ...ctx.env,
        PORT: String(port),
        ...(given ? { NODE_OPTIONS: given } : {}),
      });
      try {
        await waitForHttp(`http://127.0.0.1:${port}/readyz`);
        const env = environOf(ingest.child.pid!);
        expect(env.NODE_OPTIONS, ingest.output()).toBe(expected);
        expect(env.NODE_COMPILE_CACHE).toMatch(/node-compile-cache$/);
        expect(env.SENTINEL_RELAUNCHED).toBe("1");
        // The old generation's growing factor rides on Node's command line (NODE_OPTIONS refuses it).
        expect(cmdlineOf(ingest.child.pid!)).toContain(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
        // Stopped as before: the signal reaches the relaunched process (the same pid).
        expect(await ingest.stop("SIGTERM", 15_000), ingest.output()).toBe(0);
      } finally {
        await ingest.stop("SIGKILL");
      }
    },
    60_000,
  );
});

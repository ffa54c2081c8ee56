import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext } from "../support/context.ts";
import { spawnSentinel, startNode, waitForHttp } from "../support/processes.ts";
import { eventually, readTopic } from "../support/topics.ts";

/* Graceful shutdown of the ingress under load: SIGTERM mid-burst, exit 0 within 10 s, and every
   request that got 202 is on the topic (law 1 holds through a shutdown). */

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx?.cleanup();
});

describe("ingest shutdown", () => {
  it("finishes in-flight requests, flushes the producer and exits 0 on SIGTERM", async () => {
    const port = 18_000 + Math.floor(Math.random() * 1000);
    const ingest = spawnSentinel(["ingest"], { ...ctx.env, PORT: String(port) });
    try {
      const up = await eventually(async () => {
        try {
          return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
        } catch {
          return false;
        }
      }, 30_000);
      expect(up, ingest.output()).toBe(true);

      const accepted: string[] = [];
      const otherStatuses: number[] = [];
      const posts = [...Array(300)].map(async (_, i) => {
        await new Promise((r) => setTimeout(r, i)); // spread over ~300 ms, across the signal
        let r: Response;
        try {
          r = await fetch(`http://127.0.0.1:${port}/transaction`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ user_id: `u${i % 20}`, amount: "1.00", currency: "USD" }),
          });
        } catch {
          return; // refused once the server stopped accepting: the client knows it was not accepted
        }
        if (r.status === 202) accepted.push(((await r.json()) as { transaction_id: string }).transaction_id);
        else otherStatuses.push(r.status);
      });
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      const stopping = ingest.stop("SIGTERM", 15_000);
      await Promise.all(posts);
      expect(await stopping, ingest.output()).toBe(0);
      expect(Date.now() - started).toBeLessThan(10_000);

      expect(accepted.length).toBeGreaterThan(0);
      expect(
        otherStatuses.every((status) => status === 503),
        String(otherStatuses),
      ).toBe(true);
      const onTopic = await readTopic(
        ctx.kafka,
        ctx.config.kafka.topics.transactions,
        accepted.length,
        20_000,
      );
      const ids = new Set(onTopic.map((m) => JSON.parse(m.value!.toString()).transaction_id));
      for (const id of accepted) expect(ids.has(id)).toBe(true);
    } finally {
      await ingest.stop("SIGKILL");
    }
  });
});

/** Whether a process is gone (or a zombie nobody reaped: it runs nothing). */
function gone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z") ?? true;
  } catch {
    return true;
  }
}

describe("a child of a run that dies", () => {
  it("goes with its parent, even one killed outright (no exit handler ran)", async () => {
    const port = 19_000 + Math.floor(Math.random() * 1000);
    const script = join(tmpdir(), `parent-${process.pid}.mjs`);
    // A parent that starts an ingress the way startNode does (its environment says so) and idles.
    writeFileSync(
      script,
      `import { spawn } from "node:child_process";
const child = spawn(process.execPath, [${JSON.stringify(join(import.meta.dirname, "../../bin/sentinel.ts"))}, "ingest"], { stdio: "ignore" });
process.stdout.write(child.pid + "\\n");
setInterval(() => {}, 1_000);
`,
    );
    const parent = startNode(script, [], { ...ctx.env, PORT: String(port) });
    let pid = 0;
    try {
      expect(await eventually(async () => Number.parseInt(parent.stdout(), 10) > 0, 10_000)).toBe(true);
      pid = Number.parseInt(parent.stdout(), 10);
      // The child runs: its ingress answers.
      await waitForHttp(`http://127.0.0.1:${port}/readyz`);
      parent.child.kill("SIGKILL");
      // Re-parented, it notices within a second and shuts down as on SIGTERM.
      expect(await eventually(async () => gone(pid), 20_000)).toBe(true);
    } finally {
      await parent.stop("SIGKILL", 5_000);
      if (pid > 0 && !gone(pid)) process.kill(pid, "SIGKILL");
      rmSync(script, { force: true });
    }
  }, 60_000);
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext } from "../support/context.ts";
import { spawnSentinel } from "../support/processes.ts";
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

import { startConsumer } from "../../src/consumer/main.ts";
import type { Scorer } from "../../src/consumer/scorer.ts";
import { type RunningIngest, startIngest } from "../../src/ingest/main.ts";
import { createRuntime, type Runtime } from "../../src/runtime.ts";
import { createTestContext, type TestContext } from "./context.ts";

export type InProcess = {
  ctx: TestContext;
  rt: Runtime;
  ingest: RunningIngest | undefined;
  scorer: Scorer | undefined;
  /** Stops what started, closes the clients and removes the sandbox. */
  stop(): Promise<void>;
};

/**
 * The pipeline's parts in this test process, wired as `sentinel all` wires them, on a fresh
 * sandbox of the real services. `prepare` runs on the sandbox before anything starts.
 */
export async function startInProcess({
  overrides = {},
  ingest = false,
  consumer = false,
  prepare,
}: {
  overrides?: Record<string, string>;
  ingest?: boolean;
  consumer?: boolean;
  prepare?: (ctx: TestContext) => Promise<void>;
}): Promise<InProcess> {
  const ctx = await createTestContext(overrides);
  await prepare?.(ctx);
  const rt = await createRuntime(ctx.config, ctx.logger);
  await rt.producer.ready(30_000);
  const running = ingest ? await startIngest(rt) : undefined;
  const scorer = consumer ? await startConsumer(rt) : undefined;
  return {
    ctx,
    rt,
    ingest: running,
    scorer,
    async stop() {
      await running?.stop();
      await scorer?.stop();
      await rt.close();
      await ctx.cleanup();
    },
  };
}

import { startConsumer } from "../../src/consumer/main.ts";
import type { Scorer } from "../../src/consumer/scorer.ts";
import { type RunningIngest, startIngest } from "../../src/ingest/main.ts";
import { createRuntime, type Runtime } from "../../src/runtime.ts";
import { type RunningWebhooks, startWebhooks } from "../../src/webhooks/main.ts";
import { createTestContext, type TestContext } from "./context.ts";

export type InProcess = {
  ctx: TestContext;
  rt: Runtime;
  ingest: RunningIngest | undefined;
  scorer: Scorer | undefined;
  webhooks: RunningWebhooks | undefined;
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
  webhooks = false,
  prepare,
}: {
  overrides?: Record<string, string>;
  ingest?: boolean;
  consumer?: boolean;
  webhooks?: boolean;
  prepare?: (ctx: TestContext) => Promise<void>;
}): Promise<InProcess> {
  const ctx = await createTestContext(overrides);
  await prepare?.(ctx);
  const rt = await createRuntime(ctx.config, ctx.logger);
  await rt.producer.ready(30_000);
  const running = ingest ? await startIngest(rt) : undefined;
  const scorer = consumer ? await startConsumer(rt) : undefined;
  // An intake kafkajs gave up on fails the test run loudly (the process would exit 1).
  const delivery = webhooks
    ? await startWebhooks(rt, {
        onFatal: (error) =>
          process.nextTick(() => {
            throw error;
          }),
      })
    : undefined;
  return {
    ctx,
    rt,
    ingest: running,
    scorer,
    webhooks: delivery,
    async stop() {
      await running?.stop();
      await scorer?.stop();
      await delivery?.stop();
      await rt.close();
      await ctx.cleanup();
    },
  };
}

import type { Logger } from "../logger.ts";
import type { DeliveryStore, Outcome } from "./delivery-store.ts";
import type { EndpointStore } from "./endpoint-store.ts";

/*
 * The dispatcher's results (dispatcher.ts), recorded in batches — one statement per ~50 ms — and
 * then the endpoints' failing streaks: 410 Gone, or every attempt failing for
 * WEBHOOK_DISABLE_AFTER_MS, disables an endpoint (audited).
 */

/** An attempt's mark on its endpoint's streak. */
export type Mark = { endpointId: string; ok: boolean; gone: boolean };

/** Records outcomes in batches, then the endpoints' streaks; disables the gone and the failing. */
export function createRecorder({
  deliveries,
  endpoints,
  disableAfterMs,
  onDisabled,
  logger,
  flushMs,
}: {
  deliveries: Pick<DeliveryStore, "record" | "markStreaks">;
  endpoints: Pick<EndpointStore, "disable">;
  disableAfterMs: number;
  onDisabled: () => void;
  logger: Logger;
  flushMs: number;
}) {
  let results: Outcome[] = [];
  let marks: Mark[] = [];
  let flushing: Promise<void> | undefined;

  async function disable(ids: Iterable<string>, reason: string): Promise<void> {
    for (const id of ids) {
      if (await endpoints.disable(id, reason)) {
        logger.warn({ endpoint: id, reason }, "webhook endpoint disabled");
        onDisabled();
      }
    }
  }

  async function flush(): Promise<void> {
    if (results.length === 0) return;
    const batch = results;
    const seen = marks;
    results = [];
    marks = [];
    try {
      await deliveries.record(batch);
      const ok = new Set(seen.filter((m) => m.ok).map((m) => m.endpointId));
      const failed = new Set(seen.filter((m) => !m.ok && !ok.has(m.endpointId)).map((m) => m.endpointId));
      const expired = await deliveries.markStreaks([...ok], [...failed], disableAfterMs);
      const gone = new Set(seen.filter((m) => m.gone).map((m) => m.endpointId));
      await disable(gone, "the receiver answered 410 Gone");
      const span =
        disableAfterMs >= 86_400_000
          ? `${Math.round(disableAfterMs / 86_400_000)} days`
          : `${Math.round(disableAfterMs / 1000)} s`;
      await disable(
        expired.filter((id) => !gone.has(id)),
        `every attempt failed for ${span}`,
      );
    } catch (error) {
      // Not recorded: the rows stay leased and are sent again when the lease ends (same message id).
      logger.warn({ err: (error as Error).message, results: batch.length }, "webhook results not recorded");
    }
  }

  const run = () => {
    flushing ??= flush().finally(() => {
      flushing = undefined;
    });
    return flushing;
  };
  const timer = setInterval(run, flushMs);
  timer.unref();
  return {
    push(outcome: Outcome, mark: Mark) {
      results.push(outcome);
      marks.push(mark);
    },
    async stop() {
      clearInterval(timer);
      await flushing;
      await run();
    },
  };
}

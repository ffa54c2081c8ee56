import { Webhook } from "standardwebhooks";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { createRecorder } from "./delivery-recorder.ts";
import type { Claimed, DeliveryStore, Outcome } from "./delivery-store.ts";
import type { EndpointStore, EndpointTarget } from "./endpoint-store.ts";
import { nextDelayMs } from "./retry-schedule.ts";
import type { Attempt, Sender } from "./sender.ts";

/*
 * Sends what is due (issue 23). Each endpoint has its own slots (WEBHOOK_ENDPOINT_CONCURRENCY):
 * a claim asks only for the free slots of each enabled endpoint, and a send is never awaited by
 * the loop, so an endpoint that hangs holds its own slots for the timeout and nothing else. Results
 * are recorded in batches (one statement per ~50 ms), then the endpoints' failing streaks: 410
 * Gone, or every attempt failing for WEBHOOK_DISABLE_AFTER_MS, disables an endpoint (audited).
 */

export type Dispatcher = {
  /** Claims at once instead of at the next poll (the intake stored something). */
  kick(): void;
  stop(): Promise<void>;
};

type Target = EndpointTarget & { signers: Webhook[] };

/**
 * How many rounds of an endpoint's slots it may hold claimed ahead, and how many must be free before
 * it claims again: a claim is a statement (~10 ms on the loaded 2-core box), so it must bring many
 * deliveries — claiming per free slot capped one endpoint at ~1,000 deliveries/s (bench/webhooks.ts).
 */
const BUFFER_ROUNDS = 16;
const REFILL_ROUNDS = 4;

/** The endpoints with a signer per secret, read again every `refreshMs` (a rotation signs within it). */
function createTargetCache(endpoints: Pick<EndpointStore, "targets">, refreshMs: number) {
  let targets = new Map<string, Target>();
  let readAt = 0;
  // One signer per secret in use, kept across reads (a rotated-away secret's is dropped).
  let signers = new Map<string, Webhook>();
  return {
    get: () => targets,
    invalidate() {
      readAt = 0;
    },
    async refresh(): Promise<void> {
      if (Date.now() - readAt < refreshMs) return;
      const next = new Map<string, Target>();
      const kept = new Map<string, Webhook>();
      for (const t of await endpoints.targets()) {
        const ws = t.secrets.map((secret) => {
          const signer = kept.get(secret) ?? signers.get(secret) ?? new Webhook(secret);
          kept.set(secret, signer);
          return signer;
        });
        next.set(t.endpointId, { ...t, signers: ws });
      }
      targets = next;
      signers = kept;
      readAt = Date.now();
    },
  };
}

/** What an attempt means for its delivery: done, again at a time, or failed for good (410, schedule spent). */
export function outcomeOf(
  scheduleMs: readonly number[],
  c: Claimed,
  attempt: Attempt,
  startedAtMs: number,
): Outcome {
  const next =
    attempt.ok || attempt.status === 410
      ? undefined
      : nextDelayMs(scheduleMs, c.attempt, { retryAfter: attempt.retryAfterMs });
  return {
    deliveryId: c.deliveryId,
    attempt: c.attempt,
    lease: c.lease,
    attemptedAtMs: startedAtMs,
    ok: attempt.ok,
    status: attempt.status,
    latencyMs: attempt.latencyMs,
    error: attempt.error,
    nextAttemptAtMs: next === undefined ? undefined : Date.now() + next,
  };
}

/**
 * Records each attempt in the metrics, through one labelled child per endpoint (and outcome):
 * prom-client would otherwise hash the labels on every call.
 */
function deliveryMetrics(metrics: Metrics["webhooks"]) {
  const counters = new Map<string, { inc(): void }>();
  const timers = new Map<string, { observe(v: number): void }>();
  return (c: Claimed, attempt: Attempt, outcome: Outcome): void => {
    const label =
      attempt.status === 410
        ? "gone"
        : attempt.ok
          ? "delivered"
          : outcome.nextAttemptAtMs
            ? "retry"
            : "failed";
    const key = `${label} ${c.endpointId}`;
    let counter = counters.get(key);
    if (!counter) {
      counter = metrics.deliveries.labels({ outcome: label, endpoint: c.endpointId });
      counters.set(key, counter);
    }
    counter.inc();
    let timer = timers.get(c.endpointId);
    if (!timer) {
      timer = metrics.attemptDuration.labels({ endpoint: c.endpointId });
      timers.set(c.endpointId, timer);
    }
    timer.observe(attempt.latencyMs / 1000);
    if (attempt.ok) metrics.eventToDelivery.observe(Math.max(0, Date.now() - c.eventAtMs) / 1000);
  };
}

/**
 * Runs `find` again and again while it finds something, every `pollMs` otherwise, and at once on
 * kick() (kicks during a run coalesce into one more run). A failure waits a second.
 */
function repeatWhileFound(find: () => Promise<number>, pollMs: number, logger: Logger) {
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  async function loop(): Promise<void> {
    do {
      again = false;
      try {
        if ((await find()) > 0) again = true; // more may be due
      } catch (error) {
        logger.warn({ err: (error as Error).message }, "webhook claim failed; retrying");
        await new Promise((r) => setTimeout(r, 1_000));
      }
    } while (again && !stopped);
  }
  function kick(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = loop().finally(() => {
      running = undefined;
    });
  }
  const timer = setInterval(kick, pollMs);
  timer.unref();
  kick();
  return {
    kick,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

export type DispatcherOptions = {
  deliveries: DeliveryStore;
  endpoints: Pick<EndpointStore, "targets" | "disable">;
  sender: Sender;
  scheduleMs: readonly number[];
  endpointConcurrency: number;
  disableAfterMs: number;
  timeoutMs: number;
  metrics: Metrics["webhooks"];
  logger: Logger;
  pollMs?: number;
  refreshMs?: number;
  flushMs?: number;
};

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { deliveries, endpoints, sender, scheduleMs, endpointConcurrency, timeoutMs, logger } = options;
  const { pollMs = 100, refreshMs = 1_000, flushMs = 50 } = options;
  // A claim holds its rows past the longest attempt, with room for recording its result.
  const leaseMs = timeoutMs * 2 + 5_000;
  const targets = createTargetCache(endpoints, refreshMs);
  const recorder = createRecorder({
    deliveries,
    endpoints,
    disableAfterMs: options.disableAfterMs,
    onDisabled: () => targets.invalidate(),
    logger,
    flushMs,
  });
  // Per endpoint: claimed deliveries waiting for a slot, and attempts in flight. A claim asks for
  // up to BUFFER_ROUNDS × the endpoint's slots so that a fast endpoint never waits on a query per
  // delivery; a claimed delivery still waiting when its lease is nearly spent is dropped here (it is
  // claimed again when the lease ends: sent once more at worst, with the same message id).
  const queues = new Map<string, Array<Claimed & { claimedAtMs: number }>>();
  const inFlight = new Map<string, number>();
  const sends = new Set<Promise<void>>();
  let stopped = false;

  const observe = deliveryMetrics(options.metrics);

  function start(c: Claimed, target: Target): void {
    inFlight.set(c.endpointId, (inFlight.get(c.endpointId) ?? 0) + 1);
    const startedAtMs = Date.now();
    const send = sender
      .send(target.url, { messageId: c.messageId, body: c.body, signers: target.signers })
      .then((attempt) => {
        const outcome = outcomeOf(scheduleMs, c, attempt, startedAtMs);
        observe(c, attempt, outcome);
        recorder.push(outcome, { endpointId: c.endpointId, ok: attempt.ok, gone: attempt.status === 410 });
      })
      .finally(() => {
        inFlight.set(c.endpointId, (inFlight.get(c.endpointId) ?? 1) - 1);
        sends.delete(send);
        pump(c.endpointId);
        if ((queues.get(c.endpointId)?.length ?? 0) < endpointConcurrency * REFILL_ROUNDS) kick();
      });
    sends.add(send);
  }

  /** Starts what the endpoint's free slots allow from its queue. */
  function pump(endpointId: string): void {
    const queue = queues.get(endpointId);
    const target = targets.get().get(endpointId);
    if (!queue) return;
    // Deleted since the claim: nothing is sent (its rows went with it).
    if (!target) {
      queues.delete(endpointId);
      return;
    }
    const sendBy = Date.now() - (leaseMs - timeoutMs - 1_000);
    while (!stopped && queue.length > 0 && (inFlight.get(endpointId) ?? 0) < endpointConcurrency) {
      const c = queue.shift()!;
      if (c.claimedAtMs >= sendBy) start(c, target);
    }
  }

  async function claimOnce(): Promise<number> {
    await targets.refresh();
    const wanted = new Map<string, number>();
    for (const t of targets.get().values()) {
      if (!t.enabled || t.signers.length === 0) continue;
      const held = (queues.get(t.endpointId)?.length ?? 0) + (inFlight.get(t.endpointId) ?? 0);
      const room = endpointConcurrency * BUFFER_ROUNDS - held;
      // Refill once several rounds are free: not a query per finished delivery.
      if (room >= endpointConcurrency * REFILL_ROUNDS) wanted.set(t.endpointId, room);
    }
    const claimed = await deliveries.claim(wanted, leaseMs);
    const claimedAtMs = Date.now();
    for (const c of claimed) {
      const queue = queues.get(c.endpointId) ?? [];
      queues.set(c.endpointId, queue);
      queue.push({ ...c, claimedAtMs });
    }
    for (const id of new Set(claimed.map((c) => c.endpointId))) pump(id);
    return claimed.length;
  }

  const claims = repeatWhileFound(claimOnce, pollMs, logger);
  const kick = claims.kick;

  return {
    kick,
    async stop() {
      stopped = true;
      await claims.stop();
      // Sends still out after a few seconds are not waited for: their rows stay leased and are
      // sent again (same message id) when the lease ends.
      await Promise.race([Promise.allSettled([...sends]), new Promise((r) => setTimeout(r, 3_000).unref())]);
      await recorder.stop();
    },
  };
}

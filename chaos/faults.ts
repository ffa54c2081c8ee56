import { setTimeout as sleep } from "node:timers/promises";
import { createLogger } from "../src/logger.ts";
import { pollUntil } from "../src/poll.ts";
import { waitForKafka } from "../src/stack/stack.ts";
import type { Proc } from "../test/support/processes.ts";
import { committedSum, type Harness } from "./harness.ts";
import type { Load, Step } from "./load.ts";

/*
 * The fault schedule, as fractions of the load's duration jittered by the seed, overlapping:
 * consumers SIGKILLed and restarted, PostgreSQL and Redis cut, poison sent, an ingress SIGKILLed
 * and restarted, the broker SIGKILLed and restarted (when the run may), PostgreSQL slowed.
 */

export type Faults = {
  schedule: Step[];
  /** Seconds from the broker's restart until the pipeline flows again ("n/a": no broker restart). */
  recoveryS(): number | "n/a";
  /** The longest stall of a consumer's partitions after its SIGKILL ("n/a": none measured). */
  stallS(): number | "n/a";
};

export function faultSchedule(h: Harness, load: Load): Faults {
  const { o } = h;
  const duration = (o.total / o.rate) * 1000;
  let recoveryS: number | "n/a" = "n/a";
  let stallS: number | "n/a" = "n/a";
  const stalled = (seconds: number | undefined) => {
    if (seconds !== undefined) stallS = Math.max(stallS === "n/a" ? 0 : stallS, seconds);
  };
  const schedule: Step[] = [];
  const at = (fraction: number, run: () => Promise<void>) =>
    schedule.push({ at: fraction * (0.9 + h.rand() * 0.2) * duration, run });
  [0.15, 0.4, 0.8].slice(0, Math.max(1, Math.min(3, o.consumerKills))).forEach((f, i) => {
    at(f, async () => {
      const measuring = measureStall(h);
      await kill(h, `consumer ${i + 1}`, h.consumers, i, h.startConsumer)();
      stalled(await measuring);
    });
  });
  at(0.25, cut(h, "PostgreSQL", h.pgProxy));
  at(0.3, () => load.sendPoison());
  at(0.45, cut(h, "Redis", h.redisProxy));
  at(
    0.55,
    kill(h, "ingest 1", h.ingest, 0, () => h.startIngest(0)),
  );
  at(0.65, async () => {
    const seconds = await restartBroker(h, load);
    if (seconds !== undefined) recoveryS = seconds;
  });
  at(0.85, async () => {
    h.pgProxy.delay(o.delayMs);
    h.event("fault", `PostgreSQL delayed ${o.delayMs} ms each way`);
    await sleep(o.delayForMs);
    h.pgProxy.delay(0);
    h.event("recovery", "PostgreSQL delay removed");
  });
  schedule.sort((a, b) => a.at - b.at);
  return { schedule, recoveryS: () => recoveryS, stallS: () => stallS };
}

function kill(h: Harness, name: string, list: Proc[], index: number, restart: () => Proc) {
  return async () => {
    list[index]!.child.kill("SIGKILL");
    h.event("fault", `SIGKILL ${name}`);
    await sleep(2_000);
    list[index] = restart();
    h.event("recovery", `${name} restarted`);
  };
}

/**
 * Started just before a consumer's SIGKILL: the seconds until every partition that had lag then has
 * committed past where it stood — the dead member's partitions wait for the session timeout and a
 * rebalance. Undefined when it could not be measured (the broker away, 90 s passed).
 */
async function measureStall(h: Harness): Promise<number | undefined> {
  const before = await h.groupNow(2_000).catch(() => undefined);
  if (!before) return undefined;
  const killedAt = Date.now();
  const waiting = new Map(
    before.partitions.filter((p) => p.lag > 0n).map((p) => [p.partition, p.committed ?? p.low]),
  );
  if (waiting.size === 0) return 0;
  const done = await pollUntil(
    async () => {
      const now = await h.groupNow(2_000).catch(() => undefined);
      if (!now) return false;
      for (const p of now.partitions) {
        const at = waiting.get(p.partition);
        if (at !== undefined && (p.committed ?? p.low) > at) waiting.delete(p.partition);
      }
      return waiting.size === 0;
    },
    { timeoutMs: 90_000, everyMs: 250 },
  );
  return done ? Math.round((Date.now() - killedAt) / 100) / 10 : undefined;
}

function cut(h: Harness, name: string, proxy: Harness["pgProxy"]) {
  return async () => {
    proxy.down();
    h.event("fault", `${name} cut`);
    await sleep(h.o.cutMs);
    proxy.up();
    h.event("recovery", `${name} back`);
  };
}

/**
 * SIGKILLs the broker, starts it again after 2 s and measures until the pipeline flows: the
 * consumers commit past where they were at the kill, and the ingress accepts again (or nothing was
 * waiting to be accepted). Undefined when it never flowed, or when this run may not kill a broker.
 */
async function restartBroker(h: Harness, load: Load): Promise<number | undefined> {
  const broker = h.o.broker;
  if (!broker) {
    h.event("load", "broker restart skipped (no broker this harness may kill)");
    return undefined;
  }
  const before = await h.groupNow(5_000).then(committedSum, () => undefined);
  broker.kill();
  h.event("fault", "SIGKILL broker");
  await sleep(2_000);
  broker.start();
  const restarted = Date.now();
  const acceptedAtRestart = h.accepted.size;
  await waitForKafka(
    h.sandbox.config.kafka.brokers,
    createLogger({ log: { level: "fatal", pretty: false } }),
    120_000,
  );
  h.event("recovery", "broker answers");
  const flowing = await pollUntil(
    async () => {
      const now = await h.groupNow(2_000).then(committedSum, () => undefined);
      const consuming = now !== undefined && (before === undefined || now > before);
      const ingesting = h.accepted.size > acceptedAtRestart || load.inflight.size === 0;
      return consuming && ingesting;
    },
    { timeoutMs: 180_000, everyMs: 250 },
  );
  const seconds = flowing ? Math.round((Date.now() - restarted) / 100) / 10 : undefined;
  h.event("recovery", `pipeline flowing again (${seconds ?? "n/a"} s after the restart)`);
  return seconds;
}

import { setTimeout as sleep } from "node:timers/promises";
import { createLogger } from "../src/logger.ts";
import { pollUntil } from "../src/poll.ts";
import { waitForKafka } from "../src/stack/initialize.ts";
import type { Proc } from "../test/support/processes.ts";
import { consumerId, type Harness, sumOf } from "./harness.ts";
import type { Load, Step } from "./load.ts";

/*
 * The fault schedule, as fractions of the load's duration jittered by the seed, overlapping:
 * consumers SIGKILLed and restarted, PostgreSQL and Redis cut, poison sent, an ingress SIGKILLed
 * and restarted, the broker SIGKILLed and restarted (when the run may), PostgreSQL slowed, the
 * webhook receiver down.
 *
 * On a cluster, the faults whose recovery is a closing figure (a node's death, a consumer's
 * SIGKILL) are measured alone: each waits until no fault that stops scoring is active and holds
 * the others off until the pipeline flows again, so `recovery_s_after_broker_kill` and
 * `stall_s_after_consumer_kill` are the figures of one fault, not of a PostgreSQL cut that happened
 * to overlap it (the other faults still overlap each other, and the kill "during a rebalance" is a
 * consumer's SIGKILL and a node's together, on purpose).
 */

/** Faults that stop scoring, and the measured ones that must run alone (cluster runs). */
export type FaultGate = {
  /** Runs a fault that stops scoring: waits while a measured fault runs. */
  fault<T>(run: () => Promise<T>): Promise<T>;
  /** Runs a measured fault alone: waits until no fault is active, holds the others off meanwhile. */
  alone<T>(run: () => Promise<T>): Promise<T>;
};

/** One-broker runs keep every fault overlapping: a gate that never waits. */
const OPEN_GATE: FaultGate = { fault: (run) => run(), alone: (run) => run() };

/**
 * Bounded: a fault waits at most `maxWaitMs` for its turn, then runs anyway (and says so). A fault
 * whose turn it is takes it before its first await, so two calls in one tick cannot both pass.
 */
export function faultGate(onOverdue: (what: string) => void, maxWaitMs = 60_000): FaultGate {
  let active = 0;
  let solo = 0; // measured faults running (more than one only after an overdue wait)
  const turn = async (what: string, free: () => boolean) => {
    const until = Date.now() + maxWaitMs;
    while (!free()) {
      if (Date.now() >= until) return onOverdue(what);
      await sleep(100);
    }
  };
  return {
    async fault(run) {
      if (solo > 0) await turn("a fault waiting for a measured one", () => solo === 0);
      active++;
      try {
        return await run();
      } finally {
        active--;
      }
    },
    async alone(run) {
      const free = () => solo === 0 && active === 0;
      if (!free()) await turn("a measured fault waiting for the others", free);
      solo++;
      try {
        return await run();
      } finally {
        solo--;
      }
    },
  };
}

export type Faults = {
  schedule: Step[];
  /** Seconds from the broker's restart until the pipeline flows again ("n/a": no broker restart). */
  recoveryS(): number | "n/a";
  /** Cluster runs: the longest time from a broker's SIGKILL until the pipeline flows again. */
  killRecoveryS(): number | "n/a";
  /** The longest stall of a consumer's partitions after its SIGKILL ("n/a": none measured). */
  stallS(): number | "n/a";
};

export function faultSchedule(h: Harness, load: Load): Faults {
  const { o } = h;
  const duration = (o.total / o.rate) * 1000;
  let recoveryS: number | "n/a" = "n/a";
  let killRecoveryS: number | "n/a" = "n/a";
  let stallS: number | "n/a" = "n/a";
  const killRecovered = (seconds: number | undefined) => {
    if (seconds !== undefined) killRecoveryS = Math.max(killRecoveryS === "n/a" ? 0 : killRecoveryS, seconds);
  };
  const stalled = (seconds: number | undefined) => {
    if (seconds !== undefined) stallS = Math.max(stallS === "n/a" ? 0 : stallS, seconds);
  };
  const schedule: Step[] = [];
  const at = (fraction: number, run: () => Promise<void>) =>
    schedule.push({ at: fraction * (0.9 + h.rand() * 0.2) * duration, run });
  const gate = o.cluster ? faultGate((what) => h.event("load", `${what} for 60 s: run anyway`)) : OPEN_GATE;
  [0.15, 0.4, 0.8].slice(0, Math.max(1, Math.min(3, o.consumerKills))).forEach((f, i) => {
    at(f, async () => {
      // Measured alone: from the SIGKILL until its partitions commit again (restart included).
      const stall = await gate.alone(async () => {
        const lagging = await laggingPartitions(h);
        const measuring = lagging && stallAfter(h, lagging, Date.now());
        await kill(h, `consumer ${i + 1}`, h.consumers, i, () => h.startConsumer(consumerId(i + 1)))();
        return measuring;
      });
      stalled(stall);
      h.event(
        "recovery",
        `consumer ${i + 1}'s partitions committing again ${stall ?? "n/a"} s after its SIGKILL`,
      );
    });
  });
  at(0.25, () => gate.fault(cut(h, "PostgreSQL", h.pgProxy)));
  at(0.3, () => load.sendPoison());
  at(0.45, () => gate.fault(cut(h, "Redis", h.redisProxy)));
  at(0.55, () => gate.fault(kill(h, "ingest 1", h.ingest, 0, () => h.startIngest(0))));
  if (o.cluster) {
    // One node at a time (two of three down would stop the controllers' quorum): each kill starts
    // once the previous node is back, is measured alone, and its node is started again after.
    let nodes: Promise<void> = Promise.resolve();
    const node = (fraction: number, which: string) =>
      at(fraction, () => {
        nodes = nodes.then(() => killNode(h, load, which, gate)).then(killRecovered);
        return nodes;
      });
    node(0.1, "the partition leaders' broker");
    node(0.35, "the active controller");
    node(0.6, "a broker during a rebalance");
  } else {
    at(0.65, async () => {
      const seconds = await restartBroker(h, load);
      if (seconds !== undefined) recoveryS = seconds;
    });
  }
  at(0.5, async () => {
    await h.receiver.down();
    h.event("fault", `webhook receiver down for ${Math.round(o.receiverDownMs / 1000)} s`);
    await sleep(o.receiverDownMs);
    await h.receiver.up();
    h.event("recovery", "webhook receiver back");
  });
  at(0.85, () =>
    gate.fault(async () => {
      h.pgProxy.delay(o.delayMs);
      h.event("fault", `PostgreSQL delayed ${o.delayMs} ms each way`);
      await sleep(o.delayForMs);
      h.pgProxy.delay(0);
      h.event("recovery", "PostgreSQL delay removed");
    }),
  );
  schedule.sort((a, b) => a.at - b.at);
  return { schedule, recoveryS: () => recoveryS, killRecoveryS: () => killRecoveryS, stallS: () => stallS };
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
 * Asked just before a consumer's SIGKILL: each partition that has lag, with the offset it has
 * committed. Undefined when the group does not answer (the broker away).
 */
async function laggingPartitions(h: Harness): Promise<Map<number, bigint> | undefined> {
  // Asked until it answers (up to five times 2 s): a loaded box can miss one 2 s answer, and the
  // run would then have no stall figure at all (seen once in CI).
  let before: Awaited<ReturnType<Harness["groupNow"]>> | undefined;
  for (let attempt = 0; attempt < 5 && !before; attempt++)
    before = await h.groupNow(2_000).catch(() => undefined);
  if (!before) return undefined;
  return new Map(before.partitions.filter((p) => p.lag > 0n).map((p) => [p.partition, p.committed ?? p.low]));
}

/**
 * The seconds from `killedAt` (the SIGKILL) until every partition that had lag has committed past
 * where it stood: the dead member's partitions wait for the session timeout and a rebalance.
 * Undefined when it could not be measured (150 s passed).
 */
async function stallAfter(
  h: Harness,
  waiting: Map<number, bigint>,
  killedAt: number,
): Promise<number | undefined> {
  if (waiting.size === 0) return 0;
  const done = await pollUntil(
    async () => {
      const committed = await h.committedNow(2_000).catch(() => undefined);
      if (!committed) return false;
      for (const [partition, offset] of committed) {
        const at = waiting.get(partition);
        if (at !== undefined && offset > at) waiting.delete(partition);
      }
      return waiting.size === 0;
    },
    { timeoutMs: 150_000, everyMs: 250 },
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
  const before = await h.committedNow(5_000).then(sumOf, () => undefined);
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
  const seconds = await secondsUntilFlowing(
    h,
    load,
    { before, acceptedBefore: acceptedAtRestart, since: restarted },
    180_000,
  );
  h.event("recovery", `pipeline flowing again (${seconds ?? "n/a"} s after the restart)`);
  return seconds;
}

/**
 * Cluster runs: SIGKILLs one node (`which`: the leaders' broker, the active controller, or one
 * during a rebalance: 1 s after a consumer's) and measures, without starting it again, until the
 * pipeline flows: the group commits past where it stood and the ingress accepts (or nothing
 * waited). Then starts it again and waits until it is registered. Undefined when it did not flow
 * within 60 s.
 */
async function killNode(h: Harness, load: Load, which: string, gate: FaultGate): Promise<number | undefined> {
  const cluster = h.o.cluster!;
  const topic = h.sandbox.config.kafka.topics.transactions;
  let node = cluster.nodes[0]!;
  const seconds = await gate.alone(async () => {
    node =
      which === "the active controller"
        ? ((await cluster.activeController().catch(() => undefined)) ?? node)
        : await cluster.leaderOf(h.sandbox.kafka, topic).catch(() => node);
    if (which === "a broker during a rebalance") {
      // A consumer SIGKILLed and replaced 2 s later by a new member (another instance id, as a
      // Deployment's new pod would be): its join starts a rebalance, which completes when the dead
      // member's session expires. (Consumer 1 is not killed again later in the run.)
      const replacement = () => h.startConsumer(`${consumerId(1)}-replaced`);
      void kill(h, "consumer 1 (before a broker kill)", h.consumers, 0, replacement)();
      await sleep(1_000);
    }
    const before = await h.committedNow(5_000).then(sumOf, () => undefined);
    const acceptedBefore = h.accepted.size;
    cluster.kill(node);
    const killedAt = Date.now();
    h.event("fault", `SIGKILL ${which} (node ${node})`);
    return secondsUntilFlowing(h, load, { before, acceptedBefore, since: killedAt }, 60_000);
  });
  h.event("recovery", `pipeline flowing again ${seconds ?? "n/a"} s after node ${node}'s SIGKILL`);
  await cluster.start(node);
  h.event("recovery", `node ${node} back`);
  return seconds;
}

/**
 * Seconds from `since` until the pipeline flows: the group has committed past `before` (or has
 * nothing left to consume) and the ingress accepted again (or nothing waited). Undefined when it
 * did not within `timeoutMs`.
 */
async function secondsUntilFlowing(
  h: Harness,
  load: Load,
  { before, acceptedBefore, since }: { before: number | undefined; acceptedBefore: number; since: number },
  timeoutMs: number,
): Promise<number | undefined> {
  const flowing = await pollUntil(
    async () => {
      // Committed past where it stood (the coordinator answers even while a dead node still leads
      // partitions), or nothing left to consume (that needs every leader's end offsets).
      const committed = await h.committedNow(2_000).catch(() => undefined);
      const consuming =
        committed !== undefined &&
        (before === undefined ||
          sumOf(committed) > before ||
          (await h.groupNow(2_000).then(
            (g) => g.partitions.every((p) => p.lag === 0n),
            () => false,
          )));
      const ingesting = h.accepted.size > acceptedBefore || load.inflight.size === 0;
      return consuming && ingesting;
    },
    { timeoutMs, everyMs: 250 },
  );
  return flowing ? Math.round((Date.now() - since) / 100) / 10 : undefined;
}

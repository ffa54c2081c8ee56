import { monitorEventLoopDelay } from "node:perf_hooks";
import { check, drain } from "./checker.ts";
import { faultSchedule } from "./faults.ts";
import { type Harness, startHarness } from "./harness.ts";
import { type Load, startLoad } from "./load.ts";
import type { ChaosOptions, ChaosResult } from "./types.ts";

/*
 * The chaos harness (issue 15), shared by `npm run chaos` (chaos/main.ts) and the shortened run
 * inside `npm test` (test/chaos/chaos.test.ts): the pipeline under combined faults with a checker
 * of its own. harness.ts starts the topology and keeps the record, load.ts offers the load,
 * faults.ts schedules the faults, checker.ts drains and checks, report.ts writes the report.
 */

/** The shortened run inside `npm test` (one fault of each kind), on one broker or a cluster. */
export const SHORT_RUN = {
  total: 3_000,
  users: 500,
  rate: 100,
  fuzz: 300,
  cutMs: 5_000,
  delayMs: 150,
  delayForMs: 5_000,
  consumerKills: 1,
  sampleMs: 1_000,
  receiverDownMs: 8_000,
} as const;

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const startedAt = new Date().toISOString();
  const h = await startHarness(options);
  try {
    h.every(h.o.sampleMs, () => void h.sample());
    h.phase = "load";
    h.event("load", "load starts");
    const load = await startLoad(h);
    const faults = faultSchedule(h, load);
    h.every(5_000, () => progress(h, load));
    await load.run(faults.schedule);
    const behind = await drain(h);
    await h.sample();
    h.phase = "check";
    h.stopTimers();
    progress(h, load);
    const verdict = await check(h, load, {
      behind,
      recoveryS: faults.recoveryS(),
      killRecoveryS: faults.killRecoveryS(),
      stallS: faults.stallS(),
    });
    const { services: _services, broker: _broker, cluster, log: _log, ...settings } = h.o;
    return {
      startedAt,
      options: { ...settings, brokerRestart: h.o.broker !== undefined, brokers: cluster?.nodes.length ?? 1 },
      events: h.events,
      timeline: h.timeline,
      ...verdict,
    };
  } finally {
    await h.close();
  }
}

/*
 * The harness's own event loop (load generator, checker, samplers): its longest delay since the
 * previous line, so that a stall of the harness is not read as one of the pipeline's.
 */
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();

/** The progress line, every 5 s. */
function progress(h: Harness, load: Load): void {
  const last = h.timeline.at(-1);
  const lastEvent = h.events.at(-1);
  const stalledMs = Math.round(loopDelay.max / 1e6);
  loopDelay.reset();
  h.log(
    `phase=${h.phase} t=${Math.round(h.atS())}s sent=${load.stats.sent}/${h.o.total} accepted=${h.accepted.size} in_flight=${load.inflight.size} faults=${h.faultCount()} lag=${last?.lag ?? "?"} harness_loop_max_ms=${stalledMs}${lastEvent ? ` last="${lastEvent.name}"` : ""}`,
  );
}

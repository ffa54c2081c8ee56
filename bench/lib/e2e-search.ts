import { setTimeout as sleep } from "node:timers/promises";
import type { StageTimes } from "./stages.ts";

/*
 * Issue 38's figures beside the fixed rates of bench/e2e.ts: the highest offered rate at which
 * every transaction is decided within its wait and the p99 stays at or under 100 ms (found by
 * search: each probe's worst of two rounds), and which stage owns the p99 at a rate.
 */

export type Probe = { rate: number; p99: number; decidedRatio: number; pass: boolean };
export type MaxRate = { rate: number; tried: Probe[] };

type Round = { rate: number; decidedRatio: number; latencyMs: { p99: number } };

/**
 * Up by half again from `start` while the rate passes, down by a third while it fails, then
 * halves the gap between the best pass and the lowest failure down to `resolution`; at most
 * `maxProbes` rounds in all. A failed round leaves a backlog: `settleMs` lets it drain before the
 * next. The answer is 0 when no rate tried passed.
 */
export async function searchMaxRate(
  probe: (rate: number) => Promise<Round>,
  {
    start,
    p99Ms = 100,
    resolution = 100,
    maxProbes = 8,
    ceiling = 20_000,
    settleMs = 3_000,
  }: {
    start: number;
    p99Ms?: number;
    resolution?: number;
    maxProbes?: number;
    ceiling?: number;
    settleMs?: number;
  },
): Promise<MaxRate> {
  const tried: Probe[] = [];
  let good = 0;
  let bad = Number.POSITIVE_INFINITY;
  let next = start;
  while (tried.length < maxProbes) {
    const r = await probe(next);
    const pass = r.decidedRatio >= 1 && r.latencyMs.p99 <= p99Ms;
    tried.push({ rate: next, p99: r.latencyMs.p99, decidedRatio: r.decidedRatio, pass });
    if (pass) good = Math.max(good, next);
    else {
      bad = Math.min(bad, next);
      await sleep(settleMs);
    }
    if (Number.isFinite(bad)) {
      if (bad - good <= resolution) break;
      next = good > 0 ? roundTo((good + bad) / 2, resolution) : roundTo(bad / 1.5, resolution);
      if (next <= resolution) break;
    } else {
      if (next >= ceiling) break;
      next = Math.min(ceiling, roundTo(next * 1.5, resolution));
    }
  }
  return { rate: good, tried };
}

function roundTo(x: number, step: number): number {
  return Math.max(step, Math.round(x / step) * step);
}

/**
 * The sync request's stage with the highest p99 (ack: Kafka's acknowledgement; decide: waiting
 * for the scorer; deliver: the decision reaching the ingress), and when it is the scorer's wait,
 * the scorer's own stage with the highest p99 after a colon (`decide:persist`).
 */
export function stageOwningP99(stages: { sync: StageTimes; scorer: StageTimes }): string {
  const top = (t: StageTimes) => Object.entries(t).sort((a, b) => b[1].p99 - a[1].p99)[0]?.[0];
  const sync = top(stages.sync) ?? "unknown";
  const scorer = top(stages.scorer);
  return sync === "decide" && scorer ? `decide:${scorer}` : sync;
}

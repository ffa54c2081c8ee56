/*
 * Where the time goes, from the processes' own histograms (sentinel_sync_stage_seconds and
 * sentinel_scorer_stage_seconds): scraped before and after a stage of the bench, the difference
 * of the bucket counts gives that stage's p50 and p99, interpolated inside the bucket as
 * Prometheus's histogram_quantile does.
 */

/** stage → upper bound (seconds, Infinity for +Inf) → cumulative count. */
export type Buckets = Map<string, Map<number, number>>;

/** The buckets of histogram `name` (labelled by stage) in a Prometheus text exposition. */
export function parseBuckets(text: string, name: string): Buckets {
  const out: Buckets = new Map();
  const line = new RegExp(`^${name}_bucket\\{([^}]*)\\} (\\S+)$`, "gm");
  for (const [, labels, value] of text.matchAll(line)) {
    const stage = /stage="([^"]*)"/.exec(labels!)?.[1];
    const le = /le="([^"]*)"/.exec(labels!)?.[1];
    if (stage === undefined || le === undefined) continue;
    const bound = le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le);
    const per = out.get(stage) ?? new Map<number, number>();
    per.set(bound, Number(value));
    out.set(stage, per);
  }
  return out;
}

/** The q-quantile (0–1) in ms of what was observed between two scrapes; undefined when nothing was. */
function quantile(before: Map<number, number> | undefined, after: Map<number, number>, q: number) {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => after.get(b)! - (before?.get(b) ?? 0));
  const total = counts.at(-1) ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i]! < rank) continue;
    const upper = bounds[i]!;
    const lower = i === 0 ? 0 : bounds[i - 1]!;
    if (!Number.isFinite(upper)) return lower * 1000; // past the last bucket: its lower bound
    const below = i === 0 ? 0 : counts[i - 1]!;
    const inBucket = counts[i]! - below;
    const at = inBucket === 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
    return Math.round(at * 10_000) / 10;
  }
  return undefined;
}

export type StageTimes = Record<string, { p50: number; p99: number; count: number }>;

/** Per stage: p50 and p99 (ms) and how many were observed between the two scrapes. */
export function stageTimes(before: Buckets, after: Buckets): StageTimes {
  const out: StageTimes = {};
  for (const [stage, buckets] of after) {
    const p50 = quantile(before.get(stage), buckets, 0.5);
    const p99 = quantile(before.get(stage), buckets, 0.99);
    const count =
      (buckets.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(stage)?.get(Number.POSITIVE_INFINITY) ?? 0);
    if (p50 !== undefined && p99 !== undefined) out[stage] = { p50, p99, count };
  }
  return out;
}

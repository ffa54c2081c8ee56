import { isRetryable } from "../errors.ts";

/*
 * Partitions that have a chunk ready at the same moment are scored and published together: one set
 * of queries and one produce request for all of them instead of one per partition, which is what
 * bounded both throughput and latency when every partition paid four round trips of its own. The
 * chunks submitted within one turn of the event loop form a round; each submitter gets its own
 * chunk's result. A round of several that fails for a reason that is not an outage (something in
 * the data or code) is run again chunk by chunk, so one partition's problem stalls that partition
 * only; an outage fails every chunk of the round, for each to be retried.
 *
 * At most `maxInFlight` rounds run at once (issue 21): the partitions' workers no longer wait for
 * one fetch together, so without a bound each chunk would become a round of its own — the four
 * round trips per partition again. Chunks submitted while a round runs wait and form the next round
 * together when it ends: under load rounds grow, at rest a chunk starts at once.
 *
 * A round beyond the first starts only when a backlog waits (`overlapAt` messages, issue 38): at
 * the rates a live stream brings, one round at a time gathers what arrives meanwhile into fewer,
 * larger statements, where a second round in flight would split it into small ones for the same
 * work; with a backlog, the next round decodes, loads and decides while the last one persists. A
 * round takes at most `maxRoundSize` messages (whole chunks, at least one), so a backlog that all
 * partitions bring at once is split into rounds that overlap instead of one that nothing can.
 */

export type RoundCombiner<C, R> = {
  /** Resolves with this chunk's result once its round is scored and published. */
  submit(chunk: C): Promise<R>;
};

export function createRoundCombiner<C, R>({
  runRound,
  schedule = setImmediate,
  maxInFlight = Number.POSITIVE_INFINITY,
  sizeOf = () => 1,
  overlapAt = 0,
  maxRoundSize = Number.POSITIVE_INFINITY,
}: {
  /** Scores and publishes a round; one result per chunk, in order. */
  runRound: (chunks: C[]) => Promise<R[]>;
  /** When the gathered round starts (the end of this event-loop turn by default). */
  schedule?: (fn: () => void) => void;
  /** Rounds running at once, at most. */
  maxInFlight?: number;
  /** A chunk's size (its messages); 1 each by default. */
  sizeOf?: (chunk: C) => number;
  /** While a round runs, another starts only when at least this much waits (0: whenever one may). */
  overlapAt?: number;
  /** The most a round takes (whole chunks, at least one); the rest waits for the next. */
  maxRoundSize?: number;
}): RoundCombiner<C, R> {
  type Waiting = { chunk: C; size: number; resolve: (r: R) => void; reject: (e: unknown) => void };
  const waiting: Waiting[] = [];
  let waitingSize = 0;
  let scheduled = false;
  let inFlight = 0;

  async function run(round: Waiting[]): Promise<void> {
    try {
      const results = await runRound(round.map((w) => w.chunk));
      for (const [i, w] of round.entries()) w.resolve(results[i]!);
    } catch (error) {
      if (round.length > 1 && !isRetryable(error)) await Promise.all(round.map((w) => run([w])));
      else for (const w of round) w.reject(error);
    }
  }

  const mayStart = () =>
    waiting.length > 0 && inFlight < maxInFlight && (inFlight === 0 || waitingSize >= overlapAt);

  /** The waiting chunks a round takes: in arrival order, up to maxRoundSize (at least one). */
  function take(): Waiting[] {
    let n = 0;
    let size = 0;
    while (n < waiting.length && (n === 0 || size + waiting[n]!.size <= maxRoundSize)) {
      size += waiting[n]!.size;
      n++;
    }
    waitingSize -= size;
    return waiting.splice(0, n);
  }

  /** Starts a round of the waiting chunks at the end of this turn, if a round may start. */
  function kick(): void {
    if (scheduled || !mayStart()) return;
    scheduled = true;
    schedule(() => {
      scheduled = false;
      if (!mayStart()) return;
      const round = take();
      inFlight++;
      void run(round).finally(() => {
        inFlight--;
        kick();
      });
      kick(); // what is left may be a backlog of its own
    });
  }

  return {
    submit(chunk) {
      return new Promise<R>((resolve, reject) => {
        const size = sizeOf(chunk);
        waiting.push({ chunk, size, resolve, reject });
        waitingSize += size;
        kick();
      });
    },
  };
}

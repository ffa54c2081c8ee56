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
 * round trips per partition again. Chunks submitted while the bound is reached wait and form the
 * next round together when one ends: under load rounds grow, at rest a chunk starts at once.
 */

export type RoundCombiner<C, R> = {
  /** Resolves with this chunk's result once its round is scored and published. */
  submit(chunk: C): Promise<R>;
};

export function createRoundCombiner<C, R>({
  runRound,
  schedule = setImmediate,
  maxInFlight = Number.POSITIVE_INFINITY,
}: {
  /** Scores and publishes a round; one result per chunk, in order. */
  runRound: (chunks: C[]) => Promise<R[]>;
  /** When the gathered round starts (the end of this event-loop turn by default). */
  schedule?: (fn: () => void) => void;
  /** Rounds running at once, at most. */
  maxInFlight?: number;
}): RoundCombiner<C, R> {
  type Waiting = { chunk: C; resolve: (r: R) => void; reject: (e: unknown) => void };
  let waiting: Waiting[] = [];
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

  /** Starts the waiting chunks as a round at the end of this turn, if a round may start. */
  function kick(): void {
    if (scheduled || waiting.length === 0 || inFlight >= maxInFlight) return;
    scheduled = true;
    schedule(() => {
      scheduled = false;
      const round = waiting;
      waiting = [];
      inFlight++;
      void run(round).finally(() => {
        inFlight--;
        kick();
      });
    });
  }

  return {
    submit(chunk) {
      return new Promise<R>((resolve, reject) => {
        waiting.push({ chunk, resolve, reject });
        kick();
      });
    },
  };
}

/*
 * Commits gathered into one OffsetCommit request per interval (issue 38). The scorer commits each
 * partition's chunk as soon as it is durable: at 1,000 tx/s that was 130–280 OffsetCommit requests
 * a second to one broker — more than its fetches and produces together, each costing the broker
 * (and the two processes' CPU) a request's work for one offset. A commit now waits up to
 * `intervalMs` for the others, and the latest offset asked for each partition rides in one request
 * for all of them; a commit superseded by a later one of its partition settles with it (a later
 * offset covers the earlier). The partition's own `current()` is asked when the request is built,
 * and again before each try, exactly as a lone commit's was (commit-retry.ts): a commit that is no
 * longer current is dropped, never sent — the generation rule of the scorer's committer holds.
 * The cost is at most `intervalMs` more redelivered on a crash (absorbed by transaction_id, law 2).
 */

export type CoalescedCommit = {
  topic: string;
  partition: number;
  offset: string;
  current: () => boolean;
};

type Entry = CoalescedCommit & { waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> };

export type CommitCoalescer = {
  /** Resolves once a request carrying this offset (or a later one of its partition) was accepted. */
  commit(c: CoalescedCommit): Promise<void>;
  /** Sends what is gathered now and waits for every request in flight. */
  flush(): Promise<void>;
};

export const NOT_CURRENT = "the commit is no longer current (a later one, a rejoin or a stop)";

export function createCommitCoalescer({
  intervalMs,
  send,
}: {
  intervalMs: number;
  /**
   * Sends one request for the commits `current()` returns (asked again before each try, as a lone
   * commit's retry would); resolves with those the accepted request carried, rejects when refused.
   */
  send: (current: () => CoalescedCommit[]) => Promise<CoalescedCommit[]>;
}): CommitCoalescer {
  let gathered = new Map<string, Entry>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<void> | undefined;
  let lastSentAt = Number.NEGATIVE_INFINITY;

  async function sendGathered(): Promise<void> {
    const entries = [...gathered.values()];
    gathered = new Map();
    lastSentAt = performance.now();
    const current = () => entries.filter((e) => e.current());
    const settle = (e: Entry, error?: Error) => {
      for (const w of e.waiters) error ? w.reject(error) : w.resolve();
    };
    try {
      // Nothing is sent when none is current any more.
      const committed = new Set(current().length > 0 ? await send(current) : []);
      for (const e of entries) settle(e, committed.has(e) ? undefined : new Error(NOT_CURRENT));
    } catch (error) {
      for (const e of entries) settle(e, error as Error);
    }
  }

  function run(): void {
    timer = undefined;
    if (inFlight || gathered.size === 0) return;
    inFlight = sendGathered().finally(() => {
      inFlight = undefined;
      schedule();
    });
  }

  function schedule(): void {
    if (timer !== undefined || inFlight || gathered.size === 0) return;
    const wait = Math.max(0, lastSentAt + intervalMs - performance.now());
    timer = setTimeout(run, wait);
  }

  return {
    commit(c) {
      return new Promise<void>((resolve, reject) => {
        const key = `${c.topic}\u0000${c.partition}`;
        const before = gathered.get(key);
        gathered.set(key, { ...c, waiters: [...(before?.waiters ?? []), { resolve, reject }] });
        schedule();
      });
    },
    async flush() {
      for (let i = 0; i < 3 && (inFlight || gathered.size > 0); i++) {
        clearTimeout(timer);
        timer = undefined;
        await inFlight;
        run();
        await inFlight;
      }
    },
  };
}

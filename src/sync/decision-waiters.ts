import type { Decision } from "../domain/decision.ts";

/*
 * The waits of one ingress process for decisions (`Prefer: wait`): a map from transaction_id to
 * the requests waiting for it, fed by the decision listener (every decision on the topic passes
 * through `deliver`; the ids nobody waits for cost one map lookup). Bounded by `maxPending`; each
 * wait ends exactly once — with the decision, a conflict, its timeout, its client going away, or
 * the process closing. Pure apart from the injected timers.
 */

export type WaitOutcome =
  | { kind: "decided"; decision: Decision }
  /** The consumer dead-lettered this request's message as `id_conflict`. */
  | { kind: "conflict" }
  | { kind: "timed_out" }
  /** The client disconnected or the process is closing. */
  | { kind: "cancelled" };

export type Wait = {
  readonly promise: Promise<WaitOutcome>;
  /** Ends the wait early (client gone); no-op once ended. */
  cancel(): void;
};

type Entry = {
  fingerprint: string | undefined;
  resolve: (o: WaitOutcome) => void;
  timer: ReturnType<typeof setTimeout>;
};

export type DecisionWaiters = {
  /**
   * Waits for `id`'s decision for up to `timeoutMs`; undefined when `maxPending` waits are open
   * already (the caller answers at once: shed). `fingerprint` identifies the payload this request
   * sent, so an id_conflict letter for the same id and payload ends this wait.
   */
  wait(id: string, timeoutMs: number, fingerprint?: string): Wait | undefined;
  /** A decision seen on the decisions topic. */
  deliver(decision: Decision): void;
  /** An id_conflict dead letter for `id` whose payload had `fingerprint`. */
  conflict(id: string, fingerprint: string): void;
  /** Ends every open wait as cancelled (SIGTERM: they are answered 202). */
  closeAll(): void;
  readonly pending: number;
};

export function createDecisionWaiters({
  maxPending,
  setTimer = setTimeout,
  clearTimer = clearTimeout,
}: {
  maxPending: number;
  setTimer?: (fn: () => void, ms: number) => ReturnType<typeof setTimeout>;
  clearTimer?: (t: ReturnType<typeof setTimeout>) => void;
}): DecisionWaiters {
  const byId = new Map<string, Set<Entry>>();
  let pending = 0;

  function end(id: string, entry: Entry, outcome: WaitOutcome): void {
    const set = byId.get(id);
    if (!set?.delete(entry)) return; // ended already
    if (set.size === 0) byId.delete(id);
    pending--;
    clearTimer(entry.timer);
    entry.resolve(outcome);
  }

  return {
    wait(rawId, timeoutMs, fingerprint) {
      if (pending >= maxPending) return undefined;
      const id = rawId.toLowerCase();
      let entry!: Entry;
      const promise = new Promise<WaitOutcome>((resolve) => {
        entry = { fingerprint, resolve, timer: undefined as unknown as ReturnType<typeof setTimeout> };
      });
      entry.timer = setTimer(() => end(id, entry, { kind: "timed_out" }), timeoutMs);
      let set = byId.get(id);
      if (!set) {
        set = new Set();
        byId.set(id, set);
      }
      set.add(entry);
      pending++;
      return { promise, cancel: () => end(id, entry, { kind: "cancelled" }) };
    },
    deliver(decision) {
      const set = byId.get(decision.transaction_id);
      if (!set) return;
      for (const entry of [...set]) end(decision.transaction_id, entry, { kind: "decided", decision });
    },
    conflict(rawId, fingerprint) {
      const id = rawId.toLowerCase();
      const set = byId.get(id);
      if (!set) return;
      for (const entry of [...set])
        if (entry.fingerprint === fingerprint) end(id, entry, { kind: "conflict" });
    },
    closeAll() {
      for (const [id, set] of [...byId]) for (const entry of [...set]) end(id, entry, { kind: "cancelled" });
    },
    get pending() {
      return pending;
    },
  };
}

/**
 * The wait a request asks for with RFC 7240 `Prefer: wait=N` (seconds, decimals allowed), in ms,
 * capped at `maxMs`; undefined when it asks for none (or for nothing valid: preferences that
 * cannot be honoured are ignored, never an error).
 */
export function preferredWaitMs(prefer: string | string[] | undefined, maxMs: number): number | undefined {
  if (prefer === undefined) return undefined;
  const text = Array.isArray(prefer) ? prefer.join(",") : prefer;
  for (const part of text.split(/[,;]/)) {
    const m = /^\s*wait\s*=\s*"?(\d+(?:\.\d+)?)"?\s*$/i.exec(part);
    if (m) return Math.min(maxMs, Math.round(Number(m[1]) * 1000));
  }
  return undefined;
}

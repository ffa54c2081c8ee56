import type { ServerResponse } from "node:http";
import type { Decision } from "../domain/decision.ts";

/*
 * The live feed of the analyst console: every `review` decision the ingress's decision listener
 * sees becomes an event for the open console streams (Server-Sent Events). Nothing is polled; a
 * console that is away misses events and reloads the queue when it comes back.
 */

export type CaseEvent = {
  transaction_id: string;
  user_id: string;
  score: number;
  reasons: string[];
  decided_at: string;
};

export type CaseFeed = {
  /** A decision seen on the decisions topic; only reviews become events. */
  decision(d: Decision): void;
  /** Adds a listener; `onClose` is called when the feed closes (shutdown). Returns an unsubscribe. */
  subscribe(listener: (event: CaseEvent) => void, onClose?: () => void): () => void;
  /** Ends every subscription (the process is stopping: open streams must not hold it). */
  close(): void;
  readonly subscribers: number;
};

export function createCaseFeed(): CaseFeed {
  const listeners = new Set<(event: CaseEvent) => void>();
  const closers = new Map<(event: CaseEvent) => void, () => void>();
  return {
    decision(d) {
      if (d.decision !== "review" || listeners.size === 0) return;
      const event: CaseEvent = {
        transaction_id: d.transaction_id,
        user_id: d.user_id,
        score: d.score,
        reasons: d.reasons,
        decided_at: d.decided_at,
      };
      for (const l of listeners) l(event);
    },
    subscribe(listener, onClose) {
      listeners.add(listener);
      if (onClose) closers.set(listener, onClose);
      return () => {
        listeners.delete(listener);
        closers.delete(listener);
      };
    },
    close() {
      const ends = [...closers.values()];
      listeners.clear();
      closers.clear();
      for (const end of ends) end();
    },
    get subscribers() {
      return listeners.size;
    },
  };
}

/**
 * Serves the feed on a hijacked response as Server-Sent Events: `event: case` with each new review,
 * a comment every 15 s to keep proxies from closing the stream. The console reads it with fetch
 * (it sends the API key as a header). Ends when the client goes or the feed closes (shutdown: the
 * console reconnects to another process).
 */
export function streamCases(feed: CaseFeed, res: ServerResponse): void {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  res.write(": connected\n\n");
  const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
  const unsubscribe = feed.subscribe(
    (event) => res.write(`event: case\ndata: ${JSON.stringify(event)}\n\n`),
    () => res.end(),
  );
  res.once("close", () => {
    clearInterval(keepAlive);
    unsubscribe();
  });
}
